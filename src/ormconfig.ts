/**
 * DataSource for the TypeORM CLI (`npm run migration:run|revert|generate`, which
 * use the compiled dist/ormconfig.js), built from the same settings as the
 * service: DATABASE_URL, or the SQLite file under DATA_DIR.
 */
import 'reflect-metadata';
import 'dotenv/config';
import { DataSource } from 'typeorm';
import { loadAppConfig } from './config/app.config';
import { loadDatabaseConfig } from './config/database.config';
import { dataSourceOptions } from './database/data-source-options';

const app = loadAppConfig(process.env);
export default new DataSource(dataSourceOptions(loadDatabaseConfig(process.env, app.dataDir)));

/**
 * The TypeORM CLI's DataSource, at the top level where the CLI looks for it
 * (`npx typeorm-ts-node-commonjs migration:run -d ormconfig.ts`). The npm
 * scripts use the compiled copy, dist/ormconfig.js.
 */
export { default } from './src/ormconfig';

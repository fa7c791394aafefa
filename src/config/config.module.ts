import { type DynamicModule, Global, Module } from '@nestjs/common';
import { CONFIGURATION, type Configuration } from './configuration';

/** Provides the Configuration validated before the app was built (main.ts, the CLI, or a test). */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(configuration: Configuration): DynamicModule {
    return {
      module: ConfigModule,
      providers: [{ provide: CONFIGURATION, useValue: configuration }],
      exports: [CONFIGURATION],
    };
  }
}

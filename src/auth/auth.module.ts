import { Module } from '@nestjs/common';
import { PassportModule } from '@nestjs/passport';
import { JwtStrategy } from './jwt.strategy';
import { RouteAccessReader } from './route-access';

/**
 * The 'jwt' passport strategy and what the global guards share. The guards
 * themselves are registered in AppModule, where their order is written down.
 */
@Module({
  imports: [PassportModule],
  providers: [JwtStrategy, RouteAccessReader],
  exports: [RouteAccessReader],
})
export class AuthModule {}

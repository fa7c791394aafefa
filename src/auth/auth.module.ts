import { Module } from '@nestjs/common';
import { PassportModule } from '@nestjs/passport';
import { JwtStrategy } from './jwt.strategy';
import { RouteAccessReader } from './route-access';
import { RevokedClients, VerifiedTokenCache } from './service-tokens';

/**
 * The 'jwt' passport strategy and what the global guards share. The guards
 * themselves are registered in AppModule, where their order is written down.
 * The second strategy ('service-jwt', for the tokens this service signs) lives
 * with the signing keys in the clients module, which also fills the revocation
 * set and empties the verified-token cache kept here.
 */
@Module({
  imports: [PassportModule],
  providers: [JwtStrategy, RouteAccessReader, RevokedClients, VerifiedTokenCache],
  exports: [RouteAccessReader, RevokedClients, VerifiedTokenCache],
})
export class AuthModule {}

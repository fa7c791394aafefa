import type { VendorVerifier } from '../verification/verifier';
import type { IntegrationBaseDto } from './integration-base.dto';

/** Plain credentials of one integration, as the vendor calls need them. */
export type VendorCredentials = Readonly<Record<string, string | undefined>>;

/**
 * Everything the service knows about one vendor. The registry holds one per type;
 * validation, OpenAPI, `/integration-types`, masking and encryption all derive
 * from it, so a new vendor is one file plus one registry line.
 */
export interface VendorDefinition {
  /** The discriminator value (`type` on the wire). */
  readonly type: string;
  readonly title: string;
  readonly description: string;
  /** class-validator DTO: its @VendorField / @SecretField properties are the vendor's fields. */
  readonly dto: new () => IntegrationBaseDto;
  /** Fields the server sets itself (Salesforce `instance`); a client value is only the initial one. */
  readonly serverAssignedFields?: readonly string[];
  /** A named example for Swagger UI (fake values only). */
  readonly example: Readonly<Record<string, string>>;
  /** Environment variable that overrides the vendor's base URL (tests point it at the fakes). */
  readonly baseUrlEnv: string;
  /** The vendor's real base URL, used when `baseUrlEnv` is not set. */
  readonly defaultBaseUrl: string;
  /**
   * Checks the credentials against the vendor; run it through runVerifier, which
   * redacts secrets and calls it only when every required field of `dto` is set
   * (a field needed only to verify, like Pusher's app-id, is the verifier's to check).
   */
  readonly verify: VendorVerifier;
}

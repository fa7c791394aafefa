import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * One of the service's token-signing keys (ES256, P-256). The private key is
 * wrapped by the master key ring (AAD = its kid), like tenant data keys; the
 * public key is published at /.well-known/jwks.json.
 */
@Entity({ name: 'signing_keys' })
export class SigningKeyEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  kid!: string;

  @Column({ type: 'varchar', length: 16 })
  algorithm!: 'ES256';

  /** The public key as a JWK (JSON), without kid/use/alg. */
  @Column({ name: 'public_jwk', type: 'varchar', length: 1024 })
  publicJwk!: string;

  /** PKCS#8 DER of the private key, in an enc:v1 envelope under master key `masterKeyId`. */
  @Column({ name: 'private_key_wrapped', type: 'varchar', length: 1024 })
  privateKeyWrapped!: string;

  @Column({ name: 'master_key_id', type: 'varchar', length: 32 })
  masterKeyId!: string;

  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt!: Date;

  /** When a newer key took over signing; NULL while it is the one that signs. */
  @Column({ name: 'retired_at', type: 'datetime', precision: 3, nullable: true })
  retiredAt!: Date | null;

  /** Until when a retired key stays published: every token it signed has expired by then. */
  @Column({ name: 'publish_until', type: 'datetime', precision: 3, nullable: true })
  publishUntil!: Date | null;
}

/**
 * `npm run bench:write-floor`: what an integration write costs the database
 * layer alone, by how its statements travel, on the service's own schema.
 * Issue 14 puts a version row and an audit event into every write's
 * transaction (and issue 15 a webhook outbox INSERT … SELECT); this measures
 * how close any way of sending that transaction can come to the single
 * conditional UPDATE a write was before, with no HTTP, Nest or TypeORM in the
 * way. See "The write path's floor" in bench/README.md.
 *
 * Shapes, each a read of the row and then:
 *   before     the conditional UPDATE, autocommitted (what a write sent before issue 14)
 *   outbox     START TRANSACTION, UPDATE, version INSERT, outbox INSERT … SELECT,
 *              audit INSERT, COMMIT: one round trip each (what the service sends
 *              for a tenant with an enabled webhook, and sent for every tenant
 *              before 3ceb79f)
 *   service    the same without the outbox statement: the read also asks whether
 *              the tenant has an enabled webhook, and the bench's tenants have
 *              none (what the service sends for them)
 *   batch      service's statements as one multi-statement query (mysql2's
 *              `multipleStatements`, which the service does not enable)
 *   procedure  one CALL of a stored procedure doing the same (the service has none)
 *
 * Workers own disjoint tenants, so no write loses a race. The shapes take turns,
 * BENCH_ROUNDS rounds of BENCH_DURATION seconds (BENCH_WARMUP of warm-up each).
 */
import 'reflect-metadata';
import { createHash, randomUUID } from 'node:crypto';
import { createPool, type Pool, type PoolConnection, type RowDataPacket } from 'mysql2/promise';
import { databaseUrl, loadBenchConfig } from './config';
import { fmt, Harness, log, machineLoad, mariadbPidOf } from './harness';
import { ratio, runBench, table } from './measure';
import { tenantId } from './seed';
import { cpuMsOf } from './servers';

type Shape = 'before' | 'outbox' | 'service' | 'batch' | 'procedure';
const SHAPES: readonly Shape[] = ['before', 'outbox', 'service', 'batch', 'procedure'];
const ROUND_TRIPS: Record<Shape, number> = { before: 2, outbox: 7, service: 6, batch: 2, procedure: 2 };

const config = loadBenchConfig();
const workers = Number(process.env.BENCH_FLOOR_WORKERS ?? 16);
const DB = 'integrations_bench_write_floor';
const INTEGRATION = 'twilio';
const harness = new Harness(config);

interface Key {
  tenant: string;
  /** The tenant's audit chain head, as this worker (its only writer) last appended it. */
  seq: number;
  hash: string;
}

interface Sample {
  shape: Shape;
  writes: number;
  seconds: number;
  mariadbMicros: number;
  clientMicros: number;
}

// The statements, as the service's repositories build them (src/integrations/integrations.repository.ts,
// history/versions.repository.ts, webhooks/webhooks.repository.ts, audit/audit.repository.ts).
const READ =
  'SELECT `i`.`id` AS `id`, `i`.`type` AS `type`, `i`.`config` AS `config`, `i`.`secrets` AS `secrets`, `i`.`revision` AS `revision`, ' +
  'CASE WHEN i.deleted_at IS NULL THEN 0 ELSE 1 END AS `deleted`, `i`.`tenant_id` AS `tenantId` FROM `integrations` `i` WHERE i.tenant_id = ? AND i.id = ?';
/** The read with the webhooks' probe (WebhooksRepository.enabledWebhookProbe), as the service reads a row it writes now. */
const READ_PROBED = READ.replace(
  ' FROM `integrations`',
  ', CASE WHEN EXISTS (SELECT 1 FROM `webhooks` probe_w WHERE probe_w.tenant_id = i.tenant_id AND probe_w.enabled = 1) THEN 1 ELSE 0 END AS `subscribed`' +
    ' FROM `integrations`',
);
const UPDATE =
  'UPDATE `integrations` SET `type` = ?, `config` = ?, `secrets` = ?, `revision` = ?, `updated_at` = ?, `deleted_at` = NULL, `verify_status` = NULL, ' +
  '`verify_message` = NULL, `verified_at` = NULL, `check_due_at` = ?, `check_lease_until` = NULL ' +
  'WHERE (`tenant_id` = ? AND `id` = ? AND `revision` = ?) AND EXISTS (SELECT 1 FROM `tenants` WHERE id = ? AND data_key_version = ?)';
const VERSION =
  'INSERT INTO `integration_versions` (`tenant_id`, `integration_id`, `revision`, `type`, `config`, `secrets`, `action`, `deleted`, `restored_from`, ' +
  '`actor_sub`, `request_id`, `created_at`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
const OUTBOX =
  'INSERT INTO `webhook_deliveries` (tenant_id, webhook_id, event_id, event_type, payload, status, attempts, next_attempt_at, lease_until, retry_until, created_at) ' +
  "SELECT w.tenant_id, w.id, ?, ?, ?, 'pending', 0, ?, NULL, ?, ? FROM `webhooks` w WHERE w.tenant_id = ? AND w.enabled = ? AND (w.events_mask & ?) <> 0";
const AUDIT =
  'INSERT INTO `audit_events` (`tenant_id`, `seq`, `occurred_at`, `actor_sub`, `action`, `target`, `outcome`, `request_id`, `client_address`, ' +
  '`user_agent`, `prev_hash`, `hash`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';

/** The same transaction as one CALL; exists only in this bench's database. */
const PROCEDURE = `CREATE PROCEDURE bench_write(
  IN p_tenant VARCHAR(64), IN p_id VARCHAR(64), IN p_type VARCHAR(32), IN p_config TEXT, IN p_secrets TEXT, IN p_revision INT,
  IN p_now DATETIME(3), IN p_key_version INT, IN p_event_id VARCHAR(64), IN p_event_type VARCHAR(64), IN p_payload VARCHAR(8192),
  IN p_retry_until DATETIME(3), IN p_bit INT, IN p_actor VARCHAR(255), IN p_request VARCHAR(64), IN p_seq INT,
  IN p_prev_hash VARCHAR(64), IN p_hash VARCHAR(64), IN p_subscribed INT)
BEGIN
  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
  START TRANSACTION;
  UPDATE integrations SET type = p_type, config = p_config, secrets = p_secrets, revision = p_revision, updated_at = p_now, deleted_at = NULL,
    verify_status = NULL, verify_message = NULL, verified_at = NULL, check_due_at = p_now, check_lease_until = NULL
    WHERE tenant_id = p_tenant AND id = p_id AND revision = p_revision - 1
      AND EXISTS (SELECT 1 FROM tenants WHERE id = p_tenant AND data_key_version = p_key_version);
  IF ROW_COUNT() = 1 THEN
    INSERT INTO integration_versions (tenant_id, integration_id, revision, type, config, secrets, action, deleted, restored_from, actor_sub, request_id, created_at)
      VALUES (p_tenant, p_id, p_revision, p_type, p_config, p_secrets, 'replace', 0, NULL, p_actor, p_request, p_now);
    IF p_subscribed = 1 THEN
      INSERT INTO webhook_deliveries (tenant_id, webhook_id, event_id, event_type, payload, status, attempts, next_attempt_at, lease_until, retry_until, created_at)
        SELECT w.tenant_id, w.id, p_event_id, p_event_type, p_payload, 'pending', 0, p_now, NULL, p_retry_until, p_now FROM webhooks w
        WHERE w.tenant_id = p_tenant AND w.enabled = 1 AND (w.events_mask & p_bit) <> 0;
    END IF;
    INSERT INTO audit_events (tenant_id, seq, occurred_at, actor_sub, action, target, outcome, request_id, client_address, user_agent, prev_hash, hash)
      VALUES (p_tenant, p_seq, p_now, p_actor, 'integration.replace', p_id, 200, p_request, '127.0.0.1', 'bench', p_prev_hash, p_hash);
    COMMIT;
    SELECT 1 AS landed;
  ELSE
    ROLLBACK;
    SELECT 0 AS landed;
  END IF;
END`;

/** One write of `key`'s Twilio integration in `shape`; throws when it did not land (it cannot lose a race here). */
async function write(connection: PoolConnection, shape: Shape, key: Key, worker: number): Promise<void> {
  const probed = shape !== 'before' && shape !== 'outbox';
  const [[row]] = await connection.query<RowDataPacket[]>(probed ? READ_PROBED : READ, [key.tenant, INTEGRATION]);
  // The bench's tenants have no webhook: the probing shapes send no outbox statement, as the service does not.
  const subscribed = !probed || Number(row.subscribed) === 1;
  const revision = Number(row.revision) + 1;
  const now = new Date();
  const update = [row.type, row.config, row.secrets, revision, now, now, key.tenant, INTEGRATION, revision - 1, key.tenant, 1];
  if (shape === 'before') {
    const [result] = await connection.query<RowDataPacket[] & { affectedRows: number }>(UPDATE, update);
    if (result.affectedRows !== 1) throw new Error(`worker ${worker}: the write of ${key.tenant} did not land`);
    return;
  }
  const requestId = randomUUID();
  const eventId = `evt_${randomUUID()}`;
  const payload = JSON.stringify({
    type: 'integration.updated',
    timestamp: now.toISOString(),
    data: { tenant: key.tenant, integration: INTEGRATION, revision },
  });
  const retryUntil = new Date(now.getTime() + 86_400_000);
  const seq = key.seq + 1;
  const hash = createHash('sha256')
    .update(`${key.hash}\n${key.tenant}\n${seq}\n${now.toISOString()}\nbench\nintegration.replace\n${INTEGRATION}\n200`)
    .digest('hex');
  const version = [key.tenant, INTEGRATION, revision, row.type, row.config, row.secrets, 'replace', 0, null, 'bench', requestId, now];
  const outbox = [eventId, 'integration.updated', payload, now, retryUntil, now, key.tenant, 1, 2];
  const audit = [key.tenant, seq, now, 'bench', 'integration.replace', INTEGRATION, 200, requestId, '127.0.0.1', 'bench', key.hash, hash];
  if (shape === 'outbox' || shape === 'service') {
    await connection.query('START TRANSACTION');
    const [result] = await connection.query<RowDataPacket[] & { affectedRows: number }>(UPDATE, update);
    if (result.affectedRows !== 1) throw new Error(`worker ${worker}: the write of ${key.tenant} did not land`);
    await connection.query(VERSION, version);
    if (subscribed) await connection.query(OUTBOX, outbox);
    await connection.query(AUDIT, audit);
    await connection.query('COMMIT');
  } else if (shape === 'batch') {
    // A bench-only shortcut: the UPDATE always lands here, so the INSERTs need no condition on it.
    const statements = subscribed ? [UPDATE, VERSION, OUTBOX, AUDIT] : [UPDATE, VERSION, AUDIT];
    const parameters = subscribed ? [...update, ...version, ...outbox, ...audit] : [...update, ...version, ...audit];
    await connection.query(['START TRANSACTION', ...statements, 'COMMIT'].join(';\n'), parameters);
  } else {
    const [results] = await connection.query<RowDataPacket[][]>(
      'CALL bench_write(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      [
        key.tenant,
        INTEGRATION,
        row.type,
        row.config,
        row.secrets,
        revision,
        now,
        1,
        eventId,
        'integration.updated',
        payload,
        retryUntil,
        2,
        'bench',
        requestId,
        seq,
        key.hash,
        hash,
        subscribed ? 1 : 0,
      ],
    );
    if (Number(results[0][0].landed) !== 1) throw new Error(`worker ${worker}: the write of ${key.tenant} did not land`);
  }
  key.seq = seq;
  key.hash = hash;
}

/** `shape` for `seconds` on every worker at once; CPU of mariadbd and of this process over the same window. */
async function turn(pool: Pool, shape: Shape, keys: Key[][], seconds: number, mariadbPid: number | undefined): Promise<Sample> {
  let writes = 0;
  const mariadbCpu = (): number => (mariadbPid === undefined ? NaN : (cpuMsOf(mariadbPid) ?? NaN) * 1000);
  const mariadbBefore = mariadbCpu();
  const clientBefore = process.cpuUsage();
  const started = Date.now();
  const end = started + seconds * 1000;
  await Promise.all(
    keys.map(async (mine, worker) => {
      const connection = await pool.getConnection();
      try {
        for (let n = 0; Date.now() < end; n++) {
          await write(connection, shape, mine[n % mine.length], worker);
          writes++;
        }
      } finally {
        connection.release();
      }
    }),
  );
  const elapsed = (Date.now() - started) / 1000;
  const client = process.cpuUsage(clientBefore);
  return {
    shape,
    writes,
    seconds: elapsed,
    mariadbMicros: mariadbCpu() - mariadbBefore,
    clientMicros: client.user + client.system,
  };
}

async function main(): Promise<number> {
  harness.build();
  await harness.connectMaria();
  const mariadbPid = await mariadbPidOf(harness.db);
  await harness.prepareDatabase(DB, config.tenants, 'write floor');
  const pool = createPool({
    uri: databaseUrl(config, DB),
    connectionLimit: workers,
    multipleStatements: true,
    charset: 'utf8mb4',
    timezone: 'Z',
  });
  try {
    await pool.query('DROP PROCEDURE IF EXISTS bench_write');
    await pool.query(PROCEDURE);
    // The service's session level (src/database/database.service.ts); the before shape autocommits either way.
    pool.on('connection', (connection) => void connection.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED'));
    const keys: Key[][] = Array.from({ length: workers }, () => []);
    for (let t = 0; t < config.tenants; t++) keys[t % workers].push({ tenant: tenantId(t), seq: 0, hash: '0'.repeat(64) });
    log(
      `${workers} workers, ${fmt(config.tenants)} tenants (their own per worker); ${config.rounds} rounds x ${config.duration} s ` +
        `(+${config.warmup} s warm-up) per shape; load average ${machineLoad().toFixed(2)}`,
    );
    const samples: Sample[] = [];
    for (let round = 1; round <= config.rounds; round++) {
      for (const shape of SHAPES) {
        if (config.warmup > 0) await turn(pool, shape, keys, config.warmup, undefined);
        const sample = await turn(pool, shape, keys, config.duration, mariadbPid);
        samples.push(sample);
        log(
          `  round ${round} ${shape.padEnd(9)} ${fmt(sample.writes / sample.seconds).padStart(6)} writes/s  ` +
            `MariaDB ${fmt(sample.mariadbMicros / sample.writes)} us/write  client ${fmt(sample.clientMicros / sample.writes)} us/write`,
        );
      }
    }
    const sum = (shape: Shape, pick: (s: Sample) => number): number =>
      samples.filter((s) => s.shape === shape).reduce((a, s) => a + pick(s), 0);
    const rate = (shape: Shape): number => sum(shape, (s) => s.writes) / sum(shape, (s) => s.seconds);
    const perWrite = (shape: Shape, pick: (s: Sample) => number): number => sum(shape, pick) / sum(shape, (s) => s.writes);
    const rows = [['shape', 'round trips', 'writes/s', 'x before', 'MariaDB us/write', 'x before', 'client us/write']];
    for (const shape of SHAPES) {
      const mariadb = perWrite(shape, (s) => s.mariadbMicros);
      rows.push([
        shape,
        String(ROUND_TRIPS[shape]),
        fmt(rate(shape)),
        ratio(rate(shape), rate('before')).toFixed(2),
        fmt(mariadb),
        ratio(
          mariadb,
          perWrite('before', (s) => s.mariadbMicros),
        ).toFixed(2),
        fmt(perWrite(shape, (s) => s.clientMicros)),
      ]);
    }
    process.stdout.write(`\n${table(rows)}\n\n`);
    return 0;
  } finally {
    await pool.end();
    if (!config.keepDb) await harness.dropDatabases(DB);
    await harness.close();
  }
}

runBench('bench:write-floor', main, () => harness.dropDatabases(DB).finally(() => harness.close()), log);

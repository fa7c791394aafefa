/**
 * Classifies driver errors without ever exposing their text (it can carry SQL).
 * TypeORM wraps driver errors in QueryFailedError with `driverError`.
 */
function driverCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const wrapped = (error as { driverError?: { code?: unknown } }).driverError;
  const code = wrapped?.code ?? (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** The server's error number (MySQL protocol), for errors mysql2 has no name for. */
function driverErrno(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const wrapped = (error as { driverError?: { errno?: unknown } }).driverError;
  const errno = wrapped?.errno ?? (error as { errno?: unknown }).errno;
  return typeof errno === 'number' ? errno : undefined;
}

/** TiDB's write conflict in optimistic transactions (ErrWriteConflict), reported at COMMIT. */
const TIDB_WRITE_CONFLICT = 9007;

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'ER_CONNECTION_KILLED',
  'ER_SERVER_GONE_ERROR',
  'ER_LOCK_WAIT_TIMEOUT',
  // 1047 from a Galera node that is not in the primary component (cut off, or still joining): this node
  // cannot serve until it rejoins; another node can.
  'ER_UNKNOWN_COM_ERROR',
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_CANTOPEN',
  'SQLITE_IOERR',
]);

const UNAVAILABLE_MESSAGES = [/pool is closed/i, /connection is in closed state/i, /queue limit reached/i, /connect etimedout/i];

/** The database cannot be reached or is not answering: the client should retry (503). */
export function isDatabaseUnavailable(error: unknown): boolean {
  const code = driverCode(error);
  if (code !== undefined && UNAVAILABLE_CODES.has(code)) return true;
  const message = error instanceof Error ? error.message : '';
  return UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(message));
}

/**
 * A transaction lost a lock race and is safe to run again. On Galera a write
 * that conflicts with one committed on another node fails certification,
 * often at COMMIT, with the same ER_LOCK_DEADLOCK (1213): nothing of it
 * landed, so it is a lost race too; so is TiDB's optimistic write conflict
 * (9007) at COMMIT.
 */
export function isRetryableConflict(error: unknown): boolean {
  const code = driverCode(error);
  return code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT' || driverErrno(error) === TIDB_WRITE_CONFLICT;
}

export function isDuplicateKey(error: unknown): boolean {
  const code = driverCode(error);
  return code === 'ER_DUP_ENTRY' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/** An insert that names a parent row which does not exist (the tenant was deleted meanwhile). */
export function isForeignKeyViolation(error: unknown): boolean {
  const code = driverCode(error);
  return code === 'ER_NO_REFERENCED_ROW_2' || code === 'ER_NO_REFERENCED_ROW' || code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

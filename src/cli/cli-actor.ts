import { userInfo } from 'node:os';
import { type RequestActor, systemActor } from '../common/request-actor';

/** Who runs an operator command, for its audit events: `cli:<login>` (the uid when the system has no name for it). */
export function cliActor(): RequestActor {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = process.env.USER ?? process.env.LOGNAME ?? `uid-${process.getuid?.() ?? 'unknown'}`;
  }
  return systemActor(`cli:${user}`);
}

// audit/: the audit trail (audit.k8s.io/v1 Events at Metadata level) and its policy, reloaded like the others.
import type { Logger } from 'pino';
import { watchPath, type WatchedFile } from '../config/watched-file.ts';
import { describeError } from '../errors.ts';
import { createAuditLog, type AuditLog } from './log.ts';
import { DEFAULT_AUDIT_POLICY, loadAuditPolicy, type AuditPolicy } from './policy.ts';

export { createAuditLog, microTime, type AuditLog, type AuditRecord, type AuditFacts } from './log.ts';
export { loadAuditPolicy, DEFAULT_AUDIT_POLICY, type AuditPolicy } from './policy.ts';

/** The audit log of `config.audit`, with its policy file watched: a bad edit is logged and the last good policy stays. */
export function createAudit(cfg: { path: string; policyFile?: string }, log: Logger): { log: AuditLog; policy: WatchedFile<AuditPolicy> | undefined; close(): Promise<void> } {
  let policy: () => AuditPolicy = () => DEFAULT_AUDIT_POLICY;
  let watchedPolicy: WatchedFile<AuditPolicy> | undefined;
  let close = () => {};
  if (cfg.policyFile) {
    const file = cfg.policyFile;
    const watched = watchPath(file, () => loadAuditPolicy(file));
    watched.on('reload', () => log.info({ file }, 'audit policy reloaded'));
    watched.on('error', (err) => log.error({ file, problem: describeError(err) }, 'audit policy rejected; the last good policy stays in force'));
    policy = () => watched.current;
    watchedPolicy = watched;
    close = () => watched.close();
  }
  const auditLog = createAuditLog(cfg.path, () => policy(), (err) => log.error({ path: cfg.path, err }, 'audit log write failed'));
  log.info({ path: cfg.path, policyFile: cfg.policyFile ?? '(every request at Metadata)' }, 'audit trail on');
  return { log: auditLog, policy: watchedPolicy, async close() { close(); await auditLog.close(); } };
}

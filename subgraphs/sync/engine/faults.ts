import type { SystemName } from '../../../lib/outbox';
import { PermanentError, TransientError } from './errors';

export type FaultKind = 'TIMEOUT' | 'SERVER_ERROR' | 'RATE_LIMITED' | 'REJECT';

export interface FaultRule {
  /** Fail the next `count` calls to the system. */
  count: number;
  kind: FaultKind;
  /** For RATE_LIMITED: the Retry-After the fake upstream sends. */
  retryAfterMs?: number;
  /** Only calls of this connector operation (e.g. `createInvoice`); every call to the system when absent. */
  operation?: string;
}

/**
 * Deterministic fault injection at the connector boundary (tests and demos): "fail the next N calls to ERP with a
 * 503". Counts are consumed in call order, so a test knows exactly which attempts fail.
 */
export class FaultInjector {
  private readonly rules = new Map<SystemName, FaultRule>();

  set(system: SystemName, rule: FaultRule): void {
    this.rules.set(system, { ...rule });
  }

  clear(): void {
    this.rules.clear();
  }

  /** Runs `call` unless a fault is due for `system`, in which case it throws what that upstream would have. */
  async guard<T>(system: SystemName, operation: string, call: () => Promise<T>): Promise<T> {
    const rule = this.rules.get(system);
    if (rule && rule.count > 0 && (!rule.operation || rule.operation === operation)) {
      rule.count -= 1;
      switch (rule.kind) {
        case 'TIMEOUT':
          throw new TransientError('TIMEOUT', `${system} did not answer in time`);
        case 'SERVER_ERROR':
          throw new TransientError('UPSTREAM_5XX', `${system} answered 503 Service Unavailable`);
        case 'RATE_LIMITED':
          throw new TransientError('UPSTREAM_429', `${system} answered 429 Too Many Requests`, rule.retryAfterMs ?? 100);
        case 'REJECT':
          throw new PermanentError('UPSTREAM_REJECTED', `${system} rejected the record (422 Unprocessable Entity)`);
      }
    }
    return call();
  }
}

/** Parses SYNC_FAULTS, e.g. `{"ERP":{"count":2,"kind":"SERVER_ERROR"}}`, for demos of the retry path. */
export function faultsFromJson(json: string | undefined): FaultInjector {
  const injector = new FaultInjector();
  if (!json) return injector;
  const parsed = JSON.parse(json) as Partial<Record<SystemName, FaultRule>>;
  for (const [system, rule] of Object.entries(parsed)) if (rule) injector.set(system as SystemName, rule);
  return injector;
}

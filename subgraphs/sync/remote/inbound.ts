import type { Db } from '../../../lib/db/db';
import { CRM_KINDS, type CrmKind } from '../../crm/connector/remote-port';
import { ERP_KINDS, type ErpKind } from '../../erp/connector/remote-port';
import type { ConnectionModel } from '../connections/models';
import type { ConnectionRuntime } from '../connections/runtime';
import { PermanentError } from '../engine/errors';
import { applyCrmChange } from './inbound-crm';
import { applyErpChange } from './inbound-erp';

/** A change of a vendor CRM or ERP record (webhook or poll), as a REMOTE_CHANGE job carries it. */
export interface VendorChange {
  connectionId: string;
  objectKind: string;
  remoteId: string;
  /** Apply even a version already applied (a resync after a mapping change). */
  force?: boolean;
}

/** Applies a vendor CRM/ERP change to the mirror (the re-read and the rules live in inbound-crm.ts / inbound-erp.ts). */
export async function applyVendorChange(db: Db, tenant: string, correlationId: string, connections: ConnectionRuntime, connection: ConnectionModel, change: VendorChange): Promise<string> {
  switch (connection.system) {
    case 'CRM': {
      const remote = await connections.crmRemote(connection);
      const kind = CRM_KINDS.find((k) => k === change.objectKind);
      if (!remote || !kind) throw new PermanentError('NOT_A_CRM_CHANGE', `Connection "${connection.id}" has no remote CRM record kind "${change.objectKind}"`);
      return applyCrmChange(db, tenant, correlationId, connection, remote, kind satisfies CrmKind, change.remoteId, change.force === true);
    }
    case 'ERP': {
      const remote = await connections.erpRemote(connection);
      const kind = ERP_KINDS.find((k) => k === change.objectKind);
      if (!remote || !kind) throw new PermanentError('NOT_AN_ERP_CHANGE', `Connection "${connection.id}" has no remote ERP record kind "${change.objectKind}"`);
      return applyErpChange(db, tenant, correlationId, connection, remote, kind satisfies ErpKind, change.remoteId, change.force === true);
    }
    case 'BILLING':
      throw new PermanentError('NOT_A_VENDOR_CHANGE', 'billing changes are applied by the remote-change flow itself');
  }
}

import { z } from 'zod';
import { manifestOperations } from '../../../lib/persisted-operations/manifest';
import { type PartnerOperationList, partnerOperationLists, registerPartnerOperations } from '../../../lib/persisted-operations/store';
import { validate } from '../../../lib/validation';
import type { SyncContext } from '../context';
import type { MutationResolvers, QueryResolvers } from '../generated/resolvers';

/** A partner is named by the `sub` of its tokens. */
export const partnerName = z.string().trim().min(1).max(200);

type ListView = PartnerOperationList & { operationCount: number };
const view = (list: PartnerOperationList): ListView => ({ ...list, operationCount: list.operations.length });

/** Admin API of partner operation lists (scope admin in the policy table; every registration is in the audit log). */
export const partnerQueries: Pick<QueryResolvers<SyncContext>, 'partnerOperationLists'> = {
  partnerOperationLists: async (_p, _a, ctx) => (await partnerOperationLists(ctx.db, ctx.tenant)).map(view),
};

export const partnerMutations: Pick<MutationResolvers<SyncContext>, 'registerPartnerOperations'> = {
  registerPartnerOperations: async (_p, { partner, manifest }, ctx) => {
    const name = validate(partnerName, partner, 'partner');
    const operations = manifestOperations(manifest);
    return view(await registerPartnerOperations(ctx.db, ctx.tenant, name, operations, `${ctx.principal.kind}:${ctx.principal.sub}`));
  },
};

import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Search attributes every procedure sets, so the Temporal UI's workflow list can be filtered by
 * cluster, procedure and current step. They must exist on the server before a workflow upserts
 * them: the stack registers them and the worker checks (and adds) them at start.
 */
export const CLUSTER_ATTRIBUTE = defineSearchAttributeKey('NocobaseCluster', SearchAttributeType.KEYWORD);
export const PROCEDURE_ATTRIBUTE = defineSearchAttributeKey('NocobaseProcedure', SearchAttributeType.KEYWORD);
export const STEP_ATTRIBUTE = defineSearchAttributeKey('NocobaseStep', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTES = [CLUSTER_ATTRIBUTE, PROCEDURE_ATTRIBUTE, STEP_ATTRIBUTE];

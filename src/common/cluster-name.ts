/**
 * What a cluster may be called: it becomes part of workflow IDs, container and database names, so
 * the config schema and every procedure's input check use this one pattern. Pure code.
 */
export const CLUSTER_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

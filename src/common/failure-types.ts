/**
 * Stable `ApplicationFailure.type` values. Workflows, tests and operators match on these strings,
 * so they never change meaning; add new ones instead.
 */
export enum FailureType {
  /** The workflow input is malformed; nothing was touched. */
  InvalidInput = 'InvalidInput',
  /** The workflow was started under an ID other than the cluster's procedure ID. */
  InvalidWorkflowId = 'InvalidWorkflowId',
  /** No cluster of that name in the worker's configuration. */
  UnknownCluster = 'UnknownCluster',
  /** The configuration names something that does not exist (container, LB backend or server). */
  Misconfigured = 'Misconfigured',
  /** A first start was asked for a cluster that already has running nodes. */
  ClusterNotStopped = 'ClusterNotStopped',
  /** The cluster's database cannot be reached or refuses the configured credentials. */
  DatabaseUnreachable = 'DatabaseUnreachable',
  /** An image is neither on the Docker host nor pullable from its registry. */
  ImageUnavailable = 'ImageUnavailable',
  /** A node's container stopped on its own while we waited for it to become ready. */
  NodeExited = 'NodeExited',
  /**
   * A started node's container runs but the application says it failed and will not recover by
   * waiting: its health check answers `APP_ERROR` (e.g. a migration threw during the upgrade on
   * start, or the database was written by a newer version), or the same other 503 error for longer
   * than `timeouts.nodeFailedGrace`. NocoBase stays up in that state instead of exiting; the code
   * and message it answered are in the failure's message and details.
   */
  NodeFailed = 'NodeFailed',
  /** A node did not become healthy (and, where asked, plugins enabled) within its timeout. */
  NodeNotReady = 'NodeNotReady',
  /** The load balancer's runtime API refused a command. */
  LoadBalancerError = 'LoadBalancerError',
  /** The load balancer did not report the nodes as serving within its timeout. */
  LoadBalancerNotServing = 'LoadBalancerNotServing',
  /** A backup could not be taken or did not verify; nothing was changed in the database. */
  BackupFailed = 'BackupFailed',
  /** The backup directory has too little free space for a dump of the database. */
  InsufficientBackupSpace = 'InsufficientBackupSpace',
  /** The database could not be brought back to a backup; the database set aside is kept. */
  RestoreFailed = 'RestoreFailed',
  /** A version upgrade was asked for the image every node already runs. */
  AlreadyOnImage = 'AlreadyOnImage',
  /** An approver rejected the upgraded node; the cluster was rolled back. */
  UpgradeRejected = 'UpgradeRejected',
  /** Nobody decided within the approval timeout and the policy said roll back. */
  ApprovalTimedOut = 'ApprovalTimedOut',
  /** Undoing a failed procedure failed too: the cluster needs a person now. */
  RollbackFailed = 'RollbackFailed',
  /** A step that changes a node's container found it running; the workflow stops nodes first. */
  NodeNotStopped = 'NodeNotStopped',
  /**
   * A node's container cannot be replaced on another image: a container saved under the same label
   * is in the way, or the image it was created from is gone so its own settings cannot be told apart.
   */
  ContainerReplaceFailed = 'ContainerReplaceFailed',
  /** An in-app maintenance operation (e.g. `yarn pm enable`) failed; its output is in the details. */
  OperationFailed = 'OperationFailed',
  /** The load balancer did not drain a node's connections within its timeout. */
  LoadBalancerNotDrained = 'LoadBalancerNotDrained',
  /** A procedure that needs a serving cluster found nodes stopped or unhealthy; nothing was touched. */
  ClusterNotHealthy = 'ClusterNotHealthy',
  /** An approver rejected the result of an in-app maintenance; the nodes were restored. */
  MaintenanceRejected = 'MaintenanceRejected',
  /**
   * The nodes do not form one NocoBase cluster: they differ in settings that must be shared (APP_KEY,
   * APP_AES_SECRET_KEY, DB_*, the Redis-backed CACHE_/PUBSUB_/LOCK_/QUEUE_ adapters), run different
   * images, or are more than cluster mode allows. The message names nodes and variables, never values.
   */
  ClusterInvariantViolated = 'ClusterInvariantViolated',
  /** Today is a blackout day of the cluster and the start was not forced with a reason. */
  InBlackout = 'InBlackout',
  /**
   * An earlier run was terminated, reset or abandoned and left state behind that a new procedure
   * must not build on: a saved `-pre-` container, a set-aside or clone database no finished run
   * kept, or the maintenance switch on. Nothing was touched; the details list each leftover with
   * the exact command or step that resolves it (findLeftovers).
   */
  LeftoversFound = 'LeftoversFound',
  /**
   * The worker's database login could not undo the procedure's database step: it may not act as
   * (SET ROLE to) the owner of the database or of objects in it, so a restore could not give them
   * back to the nodes' role, or it may not create databases. Refused at pre-flight; nothing was touched.
   */
  RestoreNotPossible = 'RestoreNotPossible',
  /**
   * The restore cannot see, in the cluster's backup store, the marker the backing run wrote: the
   * `directory` store is not one filesystem shared by every worker (each has its own disk at that
   * path). Refused before anything was emptied or renamed; mount the same directory on every
   * worker, or use an S3 store.
   */
  BackupStoreNotShared = 'BackupStoreNotShared',
}

import { ApplicationFailure } from '@temporalio/activity';
import { FailureType } from '../../common/failure-types';
import { getCluster, getNode } from '../cluster/lookup';
import type { ActivityDeps } from '../deps';
import { nodesOf } from './factory';
import type { ReplacedNode, RestoredNode } from './nodes';

export type { ReplacedNode, RestoredNode } from './nodes';
export { savedContainerName } from './docker-nodes';

export interface NodeImageInput {
  cluster: string;
  node: string;
  /** Names the saved previous definition (`<container>-pre-<label>`, or a Deployment annotation); one per procedure (e.g. the target version). */
  label: string;
}

/** Docker container names allow [a-zA-Z0-9][a-zA-Z0-9_.-]*; the label becomes part of one. */
const LABEL_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;

export function createNodeImageActivities(deps: ActivityDeps) {
  function locate(input: NodeImageInput) {
    if (!LABEL_PATTERN.test(input.label)) {
      throw ApplicationFailure.nonRetryable(`label "${input.label}" cannot be part of a container name (letters, digits, _ . -)`, FailureType.InvalidInput);
    }
    return { node: getNode(deps, input.cluster, input.node), nodes: nodesOf(deps, input.cluster) };
  }

  return {
    /**
     * Replaces a stopped node's image, keeping its definition otherwise (Docker: a new container
     * with the same env, labels, command, HostConfig, networks, the previous one kept renamed to
     * `<container>-pre-<label>`; Kubernetes: the Deployment's template image, the previous image
     * kept in an annotation under the label) for restoreNodeImage. Refuses a running node
     * (NodeNotStopped), an image not on the host (ImageUnavailable) and a saved definition already
     * in the way (ContainerReplaceFailed). Safe to retry: a retry finds the work done and returns
     * the same result; a node already on `image` is left alone (`changed: false`).
     */
    async replaceNodeImage(input: NodeImageInput & { image: string }): Promise<ReplacedNode> {
      const { node, nodes } = locate(input);
      return nodes.replaceImage(node, input.image, input.label);
    },

    /**
     * Puts the definition saved by replaceNodeImage back (Docker: stops (with the cluster's
     * nodeStop timeout) and removes the replacement, renames the saved one back; Kubernetes: the
     * Deployment scaled to zero, then its previous image). The node is left stopped; starting it
     * is the workflow's next step. Volumes are never removed. Safe to retry and to call when
     * nothing was replaced (`restored: false`), also after a partial restore.
     */
    async restoreNodeImage(input: NodeImageInput): Promise<RestoredNode> {
      const { node, nodes } = locate(input);
      return nodes.restoreImage(node, input.label, getCluster(deps, input.cluster).timeouts.nodeStop);
    },

    /**
     * Forgets the definition saved under `label` once the upgrade is accepted (Docker: removes the
     * saved container, its volumes stay). Never touches the live node, and refuses
     * (ContainerReplaceFailed) while the node has no live container, since the saved one is then
     * the node's only copy. Safe to retry: nothing saved gives `removed: false`.
     */
    async discardSavedNode(input: NodeImageInput): Promise<{ removed: boolean }> {
      const { node, nodes } = locate(input);
      return nodes.discardSaved(node, input.label);
    },
  };
}

import { log } from '@temporalio/activity';
import { sendReport } from '../../adapters/smtp/mail';
import type { NotificationOutcome } from '../../common/procedure-types';
import { getCluster } from '../cluster/lookup';
import type { ActivityDeps } from '../deps';
import { workflowLink } from './workflow-link';

export interface NotificationInput {
  cluster: string;
  subject: string;
  text: string;
  /** `approvers` adds the cluster's approvers that are email addresses to the recipients. */
  audience?: 'recipients' | 'approvers';
}

const EMAIL = /^[^\s@]+@[^\s@]+$/;

export function createNotifyActivities(deps: ActivityDeps) {
  return {
    /**
     * Emails the cluster's recipients (and approvers, when asked), with a link to the workflow in
     * the Temporal UI. Not idempotent in the strict sense (a retry after a lost answer can send
     * twice); a duplicate notice is the lesser harm than a missing one.
     */
    async sendNotification(input: NotificationInput): Promise<NotificationOutcome> {
      const cluster = getCluster(deps, input.cluster);
      const approvers = input.audience === 'approvers' ? cluster.approval.approvers.filter((approver) => EMAIL.test(approver)) : [];
      const recipients = [...new Set([...cluster.notifications.recipients, ...approvers])];
      if (recipients.length === 0) return { sent: false, recipients, reason: 'the cluster has no notification recipients' };
      if (!deps.mailer || !deps.config.smtp) return { sent: false, recipients, reason: 'the worker has no smtp configuration' };
      const link = workflowLink(deps);
      const messageId = await sendReport(deps.mailer, {
        from: deps.config.smtp.from,
        to: recipients,
        subject: `[nocobase-maintenance] ${input.cluster}: ${input.subject}`,
        text: input.text,
        ...(link ? { link } : {}),
      });
      log.info('notification sent', { cluster: input.cluster, subject: input.subject, recipients });
      return { sent: true, recipients, ...(messageId ? { messageId } : {}) };
    },
  };
}

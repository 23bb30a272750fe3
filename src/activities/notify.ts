import { log } from '@temporalio/activity';
import type { NotificationOutcome } from '../common/procedure-types';
import { getCluster } from './cluster-lookup';
import type { ActivityDeps } from './deps';

export interface NotificationInput {
  cluster: string;
  subject: string;
  text: string;
}

export function createNotifyActivities(deps: ActivityDeps) {
  return {
    /**
     * Emails the cluster's recipients. Not idempotent in the strict sense (a retry after a lost
     * answer can send twice); a duplicate notice is the lesser harm than a missing one.
     */
    async sendNotification(input: NotificationInput): Promise<NotificationOutcome> {
      const recipients = getCluster(deps, input.cluster).notifications.recipients;
      if (recipients.length === 0) return { sent: false, recipients, reason: 'the cluster has no notification recipients' };
      if (!deps.mailer || !deps.config.smtp) return { sent: false, recipients, reason: 'the worker has no smtp configuration' };
      const info = (await deps.mailer.sendMail({
        from: deps.config.smtp.from,
        to: recipients,
        subject: `[nocobase-maintenance] ${input.cluster}: ${input.subject}`,
        text: input.text,
      })) as { messageId?: string };
      log.info('notification sent', { cluster: input.cluster, subject: input.subject, recipients });
      return { sent: true, recipients, ...(info.messageId ? { messageId: info.messageId } : {}) };
    },
  };
}

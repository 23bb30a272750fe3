import type { NotificationOutcome } from '../common/procedure-types';
import { quick } from './activity-options';
import { describeFailure } from './saga';

/** A notice that cannot be sent never fails a procedure: the outcome records why. */
export async function notify(
  cluster: string,
  subject: string,
  text: string,
  audience: 'recipients' | 'approvers' = 'recipients',
): Promise<NotificationOutcome> {
  try {
    return await quick.sendNotification({ cluster, subject, text, audience });
  } catch (error) {
    return { sent: false, recipients: [], reason: describeFailure(error) };
  }
}

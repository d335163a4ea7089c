import { SESv2Client } from '@aws-sdk/client-sesv2';
import { emailOtpStart } from '#core/otp-api';
import { runtime } from '#core/runtime';
import { sesEmailSender } from '#core/ses-email';

/** POST /auth/{projectId}/{environment}/email-otp-login */
export const makeHandler = emailOtpStart.bind(undefined, 'login');

const rt = runtime();
export const handler = makeHandler({ ...rt, deliver: sesEmailSender(new SESv2Client({}), rt.config.senderEmail) });

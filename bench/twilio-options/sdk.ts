/** Option "full SDK": `import twilio from 'twilio'`, as otpgate did before (test/support/twilio-sdk.ts). */
export { twilioMessages } from '../../test/support/twilio-sdk';

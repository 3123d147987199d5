/** A number standing on its own (an amount, a limit, a balance), not a digit inside an id such as `acc_05f3` or `INV-0042`. */
const STANDALONE_NUMBER = /(?<![\w.\-/])-?\d+(?:[.,]\d+)*(?![\w\-/])/g;

/**
 * The message a job records (lastErrorMessage, history, status events) is read by anyone with sync:read, who may lack
 * the scopes of the values a step saw (a credit limit needs finance:read). Values are kept out of it: numbers are
 * masked here, and the full message goes to the server log with the job's correlation id.
 */
export function recordedMessage(message: string): string {
  return message.replace(STANDALONE_NUMBER, '[value]');
}

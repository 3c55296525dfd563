/** The events integrators can subscribe to (PRODUCT.md section 6). */
export const WEBHOOK_EVENT_TYPES = [
  'session.status_changed',
  'participant.joined',
  'participant.left',
  'session.rescheduled',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

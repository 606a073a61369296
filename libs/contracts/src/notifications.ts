// The notifications of seed 003 "SSE Streaming" (`GET /api/stream`): short `{message, type}` alerts on three kinds
// of topic, each with its own seq, as they are logged and published in Redis.

/** Seed 003's alert types. */
export const NOTIFICATION_TYPES = ['success', 'info', 'warning', 'error'] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

/** What a stream subscriber receives as the event's data (seed 003: `{"message": ..., "type": ...}`). */
export interface Notification {
  message: string;
  type: NotificationType;
}

/** `broadcast`: every stream; `admins`: streams of admins; `user:<id>`: that user's streams. */
export type NotificationTopic = 'broadcast' | 'admins' | `user:${number}`;

/** A notification as logged and published: its topic and its seq in that topic. */
export interface PublishedNotification extends Notification {
  topic: NotificationTopic;
  seq: number;
}

/** The topic of one user's notifications. */
export const userTopic = (userId: number): NotificationTopic => `user:${userId}`;

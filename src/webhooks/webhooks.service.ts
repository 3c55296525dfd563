import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DomainError } from '../common/errors/domain-error.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { hostOf, isPrivateAddress, resolveAll } from './address-policy.js';
import type { CreateWebhookDto } from './dto/webhook.inputs.js';
import type { CreatedWebhookView, DeliveryView, WebhookView } from './dto/webhook.views.js';
import type { WebhookEventType } from './webhook-events.js';
import { newWebhookSecret } from './webhook-signature.js';

/** How many deliveries `GET /api/webhooks/:id/deliveries` shows, newest first. */
const DELIVERIES_SHOWN = 100;

interface EndpointRow {
  id: string;
  url: string;
  events: WebhookEventType[];
  created_at: Date;
}

function invalidUrl(message: string): DomainError {
  return new DomainError('VALIDATION_FAILED', message, [{ field: 'url', messages: [message] }]);
}

/** Webhook endpoints, managed by admins. */
@Injectable()
export class WebhooksService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async create(dto: CreateWebhookDto): Promise<CreatedWebhookView> {
    await this.assertAllowedTarget(dto.url);
    const secret = newWebhookSecret();
    const [row]: EndpointRow[] = await this.db.query(
      `INSERT INTO webhook_endpoints (url, events, secret) VALUES ($1, $2, $3)
       RETURNING id, url, events, created_at`,
      [dto.url, dto.events, secret],
    );
    return { ...view(row), secret };
  }

  async list(): Promise<WebhookView[]> {
    const rows: EndpointRow[] = await this.db.query(
      `SELECT id, url, events, created_at FROM webhook_endpoints ORDER BY created_at, id`,
    );
    return rows.map(view);
  }

  async remove(id: string): Promise<void> {
    const rows: unknown[] = await this.db.query(
      `WITH gone AS (DELETE FROM webhook_endpoints WHERE id = $1 RETURNING id) SELECT id FROM gone`,
      [id],
    );
    if (rows.length === 0) {
      throw new DomainError('NOT_FOUND', `Webhook ${id} does not exist`);
    }
  }

  async deliveries(id: string): Promise<DeliveryView[]> {
    const exists: unknown[] = await this.db.query(`SELECT 1 FROM webhook_endpoints WHERE id = $1`, [
      id,
    ]);
    if (exists.length === 0) {
      throw new DomainError('NOT_FOUND', `Webhook ${id} does not exist`);
    }
    const rows: {
      id: string;
      event_id: string;
      type: WebhookEventType;
      state: DeliveryView['state'];
      attempts: { at: string; responseStatus: number | null; error: string | null }[];
    }[] = await this.db.query(
      `SELECT d.id, d.event_id, ev.type, d.state,
              COALESCE((SELECT json_agg(json_build_object(
                          'at', to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                          'responseStatus', a.response_status, 'error', a.error) ORDER BY a.id)
                          FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]') AS attempts
         FROM webhook_deliveries d JOIN webhook_events ev ON ev.id = d.event_id
        WHERE d.endpoint_id = $1
        ORDER BY d.event_seq DESC
        LIMIT ${DELIVERIES_SHOWN}`,
      [id],
    );
    return rows.map((r) => ({
      id: r.id,
      eventId: r.event_id,
      type: r.type,
      state: r.state,
      attempts: r.attempts,
    }));
  }

  /** http(s) only; no private or loopback target unless WEBHOOK_ALLOW_PRIVATE. */
  private async assertAllowedTarget(raw: string): Promise<void> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw invalidUrl('url must be an absolute http(s) URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw invalidUrl('url must use http or https');
    }
    if (url.username || url.password) {
      throw invalidUrl('url must not carry credentials');
    }
    if (this.config.webhookAllowPrivate) {
      return;
    }
    let addresses: string[];
    try {
      addresses = await resolveAll(hostOf(url));
    } catch {
      throw invalidUrl(`url host ${url.hostname} does not resolve`);
    }
    if (addresses.length === 0 || addresses.some(isPrivateAddress)) {
      throw invalidUrl('url must not point at a private, loopback or link-local address');
    }
  }
}

function view(row: EndpointRow): WebhookView {
  return {
    id: row.id,
    url: row.url,
    events: row.events,
    createdAt: row.created_at.toISOString(),
  };
}

import { Inject, Injectable } from '@nestjs/common';
import { DomainError } from '../common/errors/domain-error.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { Sql } from '../database/sql.js';
import { hostOf, isPrivateAddress, resolveAll } from './address-policy.js';
import type { CreateWebhookDto } from './dto/webhook.inputs.js';
import type { CreatedWebhookView, DeliveryView, WebhookView } from './dto/webhook.views.js';
import type { WebhookEventType } from './webhook-events.js';
import { newWebhookSecret } from './webhook-signature.js';
import {
  DELETE_ENDPOINT,
  DELIVERIES_OF_ENDPOINT,
  ENDPOINT_EXISTS,
  INSERT_ENDPOINT,
  LIST_ENDPOINTS,
} from './webhooks.sql.js';

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
    private readonly sql: Sql,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async create(dto: CreateWebhookDto): Promise<CreatedWebhookView> {
    await this.assertAllowedTarget(dto.url);
    const secret = newWebhookSecret();
    const [row] = await this.sql.rows<EndpointRow>(INSERT_ENDPOINT.name, INSERT_ENDPOINT.text, [
      dto.url,
      dto.events,
      secret,
    ]);
    return { ...view(row), secret };
  }

  async list(): Promise<WebhookView[]> {
    const rows = await this.sql.rows<EndpointRow>(LIST_ENDPOINTS.name, LIST_ENDPOINTS.text, []);
    return rows.map(view);
  }

  async remove(id: string): Promise<void> {
    const rows = await this.sql.rows(DELETE_ENDPOINT.name, DELETE_ENDPOINT.text, [id]);
    if (rows.length === 0) {
      throw new DomainError('NOT_FOUND', `Webhook ${id} does not exist`);
    }
  }

  async deliveries(id: string): Promise<DeliveryView[]> {
    const exists = await this.sql.rows(ENDPOINT_EXISTS.name, ENDPOINT_EXISTS.text, [id]);
    if (exists.length === 0) {
      throw new DomainError('NOT_FOUND', `Webhook ${id} does not exist`);
    }
    const rows = await this.sql.rows<{
      id: string;
      event_id: string;
      type: WebhookEventType;
      state: DeliveryView['state'];
      attempts: { at: string; responseStatus: number | null; error: string | null }[];
    }>(DELIVERIES_OF_ENDPOINT.name, DELIVERIES_OF_ENDPOINT.text, [id, DELIVERIES_SHOWN]);
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

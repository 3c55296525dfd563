import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** One `RTCIceServer`; the examples are placeholders, never a credential of any deployment. */
export class IceServerView {
  @ApiProperty({
    type: [String],
    example: ['turn:turn.example.com:3478?transport=udp', 'turns:turn.example.com:5349'],
    description: '`stun:`/`stuns:` or `turn:`/`turns:` URLs of one server',
  })
  urls: string[];

  @ApiPropertyOptional({
    example: '1767261600:3f2b8c1e-0000-4000-8000-000000000000',
    description: 'TURN only: `<expiry unix seconds>:<userId>` (TURN REST API)',
  })
  username?: string;

  @ApiPropertyOptional({
    example: '<base64 HMAC-SHA1 of the username>',
    description:
      "TURN only: base64(HMAC-SHA1(TURN_SECRET, username)), checked by coturn's use-auth-secret",
  })
  credential?: string;
}

export class IceServersView {
  @ApiProperty({
    type: [IceServerView],
    description: 'Pass as is to `new RTCPeerConnection({ iceServers })`; empty without STUN/TURN',
  })
  iceServers: IceServerView[];

  @ApiProperty({
    format: 'date-time',
    description: 'When the TURN credential stops working (fetch a new one before a later call)',
  })
  expiresAt: string;
}

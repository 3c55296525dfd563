import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';

/**
 * A TURN Allocate over UDP (RFC 5766 with RFC 5389 long-term credentials), just enough to read
 * the relay's verdict on a username and password: the first request learns the realm and nonce
 * from the 401, the second is signed with MESSAGE-INTEGRITY. Answers 200 when the relay
 * allocated, otherwise the STUN error code (401: the credential was refused).
 */
export async function turnAllocate(
  port: number,
  username: string,
  password: string,
  host = '127.0.0.1',
): Promise<number> {
  const socket = createSocket('udp4');
  try {
    const transport = attribute(ATTR.requestedTransport, Buffer.from([17, 0, 0, 0]));
    const challenge = await exchange(socket, port, host, message([transport]));
    if (challenge.code !== 401) {
      throw new Error(`expected the unauthenticated Allocate to get 401, got ${challenge.code}`);
    }
    const realm = challenge.attributes.get(ATTR.realm)!;
    const nonce = challenge.attributes.get(ATTR.nonce)!;
    const key = createHash('md5').update(`${username}:${realm.toString()}:${password}`).digest();
    const signed = message(
      [
        attribute(ATTR.username, Buffer.from(username)),
        attribute(ATTR.realm, realm),
        attribute(ATTR.nonce, nonce),
        transport,
      ],
      key,
    );
    return (await exchange(socket, port, host, signed)).code;
  } finally {
    socket.close();
  }
}

const MAGIC_COOKIE = 0x2112a442;
const ALLOCATE_REQUEST = 0x0003;
const ALLOCATE_SUCCESS = 0x0103;
const ATTR = {
  username: 0x0006,
  messageIntegrity: 0x0008,
  errorCode: 0x0009,
  realm: 0x0014,
  nonce: 0x0015,
  requestedTransport: 0x0019,
} as const;

function attribute(type: number, value: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt16BE(type, 0);
  header.writeUInt16BE(value.length, 2);
  const padding = Buffer.alloc((4 - (value.length % 4)) % 4);
  return Buffer.concat([header, value, padding]);
}

/** An Allocate request; with `key`, MESSAGE-INTEGRITY over everything before it (RFC 5389 15.4). */
function message(attributes: Buffer[], key?: Buffer): Buffer {
  const body = Buffer.concat(attributes);
  const header = Buffer.alloc(20);
  header.writeUInt16BE(ALLOCATE_REQUEST, 0);
  header.writeUInt32BE(MAGIC_COOKIE, 4);
  randomBytes(12).copy(header, 8);
  if (!key) {
    header.writeUInt16BE(body.length, 2);
    return Buffer.concat([header, body]);
  }
  // The length counts the integrity attribute (4 + 20 bytes) that follows the signed part.
  header.writeUInt16BE(body.length + 24, 2);
  const signedPart = Buffer.concat([header, body]);
  const integrity = createHmac('sha1', key).update(signedPart).digest();
  return Buffer.concat([signedPart, attribute(ATTR.messageIntegrity, integrity)]);
}

interface Answer {
  code: number;
  attributes: Map<number, Buffer>;
}

function parse(packet: Buffer): Answer {
  const type = packet.readUInt16BE(0);
  const attributes = new Map<number, Buffer>();
  for (let at = 20; at + 4 <= packet.length;) {
    const attrType = packet.readUInt16BE(at);
    const length = packet.readUInt16BE(at + 2);
    attributes.set(attrType, packet.subarray(at + 4, at + 4 + length));
    at += 4 + length + ((4 - (length % 4)) % 4);
  }
  const error = attributes.get(ATTR.errorCode);
  const code = type === ALLOCATE_SUCCESS ? 200 : error ? (error[2] & 0x7) * 100 + error[3] : -type;
  return { code, attributes };
}

/** Sends `request` until its answer (same transaction id) arrives; UDP may lose either. */
function exchange(
  socket: ReturnType<typeof createSocket>,
  port: number,
  host: string,
  request: Buffer,
): Promise<Answer> {
  const transactionId = request.subarray(8, 20);
  return new Promise((resolve, reject) => {
    let tries = 0;
    const send = () => {
      if (tries++ === 5) {
        cleanup();
        reject(new Error(`no answer from the TURN server on ${host}:${port}`));
        return;
      }
      socket.send(request, port, host);
    };
    const timer = setInterval(send, 1000);
    const onMessage = (packet: Buffer) => {
      if (packet.length >= 20 && packet.subarray(8, 20).equals(transactionId)) {
        cleanup();
        resolve(parse(packet));
      }
    };
    const cleanup = () => {
      clearInterval(timer);
      socket.off('message', onMessage);
    };
    socket.on('message', onMessage);
    send();
  });
}

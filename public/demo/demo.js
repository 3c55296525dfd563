// Reference client of the session video API: joins a session's room over Socket.io and runs the
// WebRTC call through the gateway's `signal` events with the perfect-negotiation pattern, so
// either side may join first, leave and come back. The first offer of a connection comes from
// the impolite side only (see `createPeer`). Plain ES modules, no build step.
import { io } from './vendor/socket.io/socket.io.esm.min.js';

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const ui = {
  status: $('status'),
  connection: $('connection'),
  room: $('room'),
  error: $('error'),
  remote: $('remote-video'),
  local: $('local-video'),
  leave: $('leave'),
};

const params = new URLSearchParams(location.search);
const hash = new URLSearchParams(location.hash.slice(1));
const sessionId = params.get('sessionId');
const token = hash.get('token');
/** `?relay=1`: media only through the TURN relay, as behind a NAT that allows nothing else. */
const relayOnly = params.get('relay') === '1';

function showError(message) {
  ui.error.textContent = message;
  ui.error.hidden = false;
  console.warn(message);
}

/** The token's subject: the user id that decides who is polite in a collision. */
function userIdOf(jwt) {
  try {
    const payload = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(payload)).sub;
  } catch {
    return undefined;
  }
}

const me = token ? userIdOf(token) : undefined;
let socket;
let localStream;
let iceServers = [];
/** The one peer connection, to the other participant (a session has two). */
let peer;
let left = false;
/**
 * Whether this socket is in the room now. A socket hears its user's other sessions and this
 * session's arrivals even outside the room (live events per user): the call reacts only to this
 * session, and to arrivals only once it is in the room (the join's answer lists who is there).
 */
let inRoom = false;
const ofThisSession = (handler) => (event) => {
  if (event.sessionId === sessionId) {
    handler(event);
  }
};

function setConnection(state) {
  ui.connection.textContent = state;
}

function send(type, data) {
  socket.emit('signal', { sessionId, type, data }, (ack) => {
    if (!ack?.ok) {
      console.warn('signal refused', ack?.error);
    }
  });
}

/** How long the polite side waits for the other side's first offer before it offers itself. */
const FIRST_OFFER_WAIT_MS = 3000;

/**
 * Perfect negotiation (https://www.w3.org/TR/webrtc/#perfect-negotiation-example): both sides
 * may offer at once; the impolite side ignores a colliding offer, the polite side rolls back.
 *
 * A connection's first offer is left to the impolite side, though: when both sides offered at
 * once, Chromium's polite side (rolled back, then answering) sometimes never gathered an ICE
 * candidate again, and the call stayed unconnected (3 of 8 tries of two /demo tabs). The polite
 * side answers that first offer, and offers itself only after it, or when none came within
 * FIRST_OFFER_WAIT_MS (the other side may still hold an earlier connection to us).
 */
function createPeer(otherUserId) {
  const pc = new RTCPeerConnection({
    iceServers,
    iceTransportPolicy: relayOnly ? 'relay' : 'all',
  });
  const state = {
    pc,
    otherUserId,
    polite: me < otherUserId,
    /** True once a remote description was applied, or the polite side stopped waiting for one. */
    negotiated: false,
    makingOffer: false,
    ignoreOffer: false,
    firstOfferTimer: undefined,
  };
  const negotiate = async () => {
    try {
      state.makingOffer = true;
      await pc.setLocalDescription();
      send(pc.localDescription.type, pc.localDescription.toJSON());
    } catch (error) {
      console.warn('negotiation failed', error);
    } finally {
      state.makingOffer = false;
    }
  };
  const receiveOnly = () => {
    // Without a camera the offer still asks for the other side's audio and video.
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.addTransceiver('video', { direction: 'recvonly' });
  };
  for (const track of localStream?.getTracks() ?? []) {
    pc.addTrack(track, localStream);
  }
  pc.onnegotiationneeded = () => {
    if (state.polite && !state.negotiated) {
      return; // the impolite side offers first; our tracks go into the answer
    }
    void negotiate();
  };
  if (state.polite) {
    state.firstOfferTimer = setTimeout(() => {
      if (state.negotiated || pc.signalingState !== 'stable' || peer !== state) {
        return;
      }
      state.negotiated = true;
      if (pc.getTransceivers().length === 0) {
        receiveOnly(); // fires negotiationneeded
      } else {
        void negotiate();
      }
    }, FIRST_OFFER_WAIT_MS);
  } else if (!localStream) {
    receiveOnly();
  }
  pc.onicecandidate = ({ candidate }) => {
    if (candidate) {
      send('ice-candidate', candidate.toJSON());
    }
  };
  pc.ontrack = ({ streams, track }) => {
    const stream = streams[0] ?? new MediaStream([track]);
    if (ui.remote.srcObject !== stream) {
      ui.remote.srcObject = stream;
    }
  };
  pc.onconnectionstatechange = () => setConnection(pc.connectionState);
  setConnection(pc.connectionState);
  return state;
}

function closePeer() {
  if (peer) {
    clearTimeout(peer.firstOfferTimer);
    peer.pc.close();
    peer = undefined;
  }
  ui.remote.srcObject = null;
  setConnection(left ? 'closed' : 'new');
}

function ensurePeer(otherUserId) {
  if (peer && peer.otherUserId !== otherUserId) {
    closePeer();
  }
  peer ??= createPeer(otherUserId);
  return peer;
}

async function onSignal({ from, type, data }) {
  if (left || from === me) {
    return;
  }
  const state = ensurePeer(from);
  const { pc } = state;
  try {
    if (type === 'offer' || type === 'answer') {
      const collision = type === 'offer' && (state.makingOffer || pc.signalingState !== 'stable');
      state.ignoreOffer = !state.polite && collision;
      if (state.ignoreOffer) {
        return;
      }
      await pc.setRemoteDescription(data);
      state.negotiated = true;
      if (type === 'offer') {
        await pc.setLocalDescription();
        send('answer', pc.localDescription.toJSON());
      }
    } else if (type === 'ice-candidate') {
      try {
        await pc.addIceCandidate(data);
      } catch (error) {
        if (!state.ignoreOffer) {
          throw error;
        }
      }
    }
  } catch (error) {
    console.warn(`signal ${type} failed`, error);
  }
}

async function join() {
  const ack = await socket.timeout(10_000).emitWithAck('join-room', { sessionId });
  if (!ack.ok) {
    ui.room.textContent = 'not joined';
    showError(`join-room refused: ${ack.error.code} (${ack.error.message})`);
    return;
  }
  ui.error.hidden = true;
  inRoom = true;
  ui.room.textContent = 'joined';
  ui.status.textContent = ack.status;
  // Fresh credentials on every join (a reconnect may come after the earlier ones expired).
  iceServers = ack.iceServers ?? iceServers;
  const other = ack.participants.find((p) => p.userId !== me);
  if (other) {
    ensurePeer(other.userId);
  }
}

/**
 * The ICE servers for this session, with a TURN credential of this user's own, from the API with
 * the page's token; the public config.json (STUN only) when the API refuses (e.g. TOO_EARLY).
 */
async function loadIceServers() {
  try {
    const res = await fetch(`/api/video-calls/ice-servers/${encodeURIComponent(sessionId)}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    if (res.ok) {
      return (await res.json()).iceServers;
    }
  } catch (error) {
    console.warn('ice-servers failed', error);
  }
  try {
    return (await (await fetch('config.json')).json()).iceServers ?? [];
  } catch {
    return [];
  }
}

async function start() {
  if (!sessionId || !token) {
    showError('Open this page as /demo/?sessionId=SESSION_ID#token=ACCESS_TOKEN');
    return;
  }
  iceServers = await loadIceServers();
  try {
    localStream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
    ui.local.srcObject = localStream;
  } catch (error) {
    showError(`No camera or microphone (${error.name}): joining to receive only`);
  }

  socket = io(`${location.origin}/video-calls`, { auth: { token }, transports: ['websocket'] });
  socket.on('connect', () => {
    // Also after a reconnect (another instance, a deploy): the room is joined again.
    join().catch((error) => showError(`join-room failed: ${error.message}`));
  });
  socket.on('connect_error', (error) => showError(`connection refused: ${error.message}`));
  socket.on('disconnect', () => {
    inRoom = false;
    ui.room.textContent = 'disconnected';
    closePeer();
  });
  socket.on('signal', (message) => void onSignal(message));
  socket.on(
    'participant-joined',
    ofThisSession(({ userId }) => {
      if (inRoom && userId !== me) {
        ensurePeer(userId);
      }
    }),
  );
  socket.on(
    'participant-left',
    ofThisSession(({ userId }) => {
      if (peer?.otherUserId === userId) {
        closePeer();
      }
    }),
  );
  socket.on(
    'session-status',
    ofThisSession(({ status }) => {
      ui.status.textContent = status;
      if (['Completed', 'Cancelled', 'No Show'].includes(status)) {
        inRoom = false;
        ui.room.textContent = 'closed';
        closePeer();
      }
    }),
  );
  socket.on('token-expiring', ({ expiresAt }) =>
    showError(`The access token expires at ${expiresAt}; reload with a fresh one to stay.`),
  );
}

ui.leave.addEventListener('click', async () => {
  left = true;
  inRoom = false;
  ui.leave.disabled = true;
  try {
    await socket?.timeout(5000).emitWithAck('leave-room', { sessionId });
  } catch {
    // Disconnecting below leaves the room anyway.
  }
  closePeer();
  socket?.disconnect();
  localStream?.getTracks().forEach((track) => track.stop());
  ui.room.textContent = 'left';
});

void start();

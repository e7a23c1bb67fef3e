// The peer link handshake as a pure state machine, for both roles: it takes received frames and
// returns the frames to send and, at the end, the outcome. The connection shell does the socket
// I/O and supplies the random nonce, so the machine itself has no I/O, timers or randomness.
//
// The sequence (I: initiator, R: responder):
//   I -> R  HELLO {versions offered, serial I, expect serial R, SSIDs}
//   R -> I  HELLO {chosen version, serial R, expect serial I, SSIDs}, CHALLENGE {nonce R}
//   I -> R  CHALLENGE {nonce I}, PROOF {HMAC(secret, "I->R", nonce R, nonce I, serial I, serial R)}
//   R -> I  PROOF {HMAC(secret, "R->I", ...same...)}, WELCOME {version}
// The initiator proves first, so the responder never computes a proof for an unproven peer. The
// direction label keeps a proof from being reflected back; fresh nonces from both sides keep a
// recorded proof from being replayed. The secret itself never crosses the wire.
//
// Initiator states and transitions:
//   start --start()--> awaiting-hello (sends HELLO)
//   awaiting-hello --HELLO, chosen version offered, serial as expected--> awaiting-challenge
//   awaiting-challenge --CHALLENGE--> awaiting-proof (sends CHALLENGE, PROOF)
//   awaiting-proof --PROOF that verifies--> awaiting-welcome
//   awaiting-welcome --WELCOME for the chosen version--> established
// Responder states and transitions:
//   awaiting-hello --HELLO, a common version, serial as expected--> awaiting-challenge
//                                                   (sends HELLO, CHALLENGE)
//   awaiting-challenge --CHALLENGE--> awaiting-proof
//   awaiting-proof --PROOF that verifies--> established (sends PROOF, WELCOME)
// Either role, any state: REFUSE received --> failed; a refusal it decides (no common version,
// wrong serial, a proof that does not verify) --> failed (sends REFUSE); any other frame --> failed
// (protocol). Failed and established are final.
//
// Which secret keys the proofs depends on the peer's serial (link-secrets.ts): the responder looks
// it up when the initiator's HELLO names itself, and refuses a serial it has no secret for, and
// its own serial, which no peer can be. The initiator looks up the serial it expects.

import assert from "node:assert/strict";
import { createHmac, timingSafeEqual } from "node:crypto";
import type { ErrorCode } from "../errors/codes.js";
import {
  type Frame,
  type HelloFrame,
  NONCE_BYTES,
  type RefuseFrame,
  RefuseReason,
  type RefuseReasonCode,
} from "./frame-types.js";
import { type LinkSecret, missingSecretHint, secretFor } from "./link-secrets.js";

/** The protocol versions this build speaks, oldest first. */
export const SUPPORTED_VERSIONS: readonly number[] = [1, 2, 3, 4];

/** Handshake frames all carry request id 0: nothing is pipelined before the link is up. */
const HANDSHAKE_REQUEST_ID = 0;

export type HandshakeRole = "initiator" | "responder";
export type HandshakeState =
  | "start"
  | "awaiting-hello"
  | "awaiting-challenge"
  | "awaiting-proof"
  | "awaiting-welcome"
  | "established"
  | "failed";

/** What an established link agreed on. */
export interface LinkSession {
  readonly version: number;
  readonly peerSerial: string;
  readonly peerSsids: readonly string[];
}

export type HandshakeOutcome =
  | { readonly kind: "established"; readonly session: LinkSession }
  | { readonly kind: "failed"; readonly code: ErrorCode; readonly message: string };

export interface HandshakeStep {
  readonly send: readonly Frame[];
  /** Set once the handshake is over, either way. */
  readonly outcome?: HandshakeOutcome;
}

export interface HandshakeOptions {
  readonly role: HandshakeRole;
  /** One secret for every peer, or one per peer serial. */
  readonly secret: LinkSecret;
  readonly serial: string;
  readonly ssids?: readonly string[];
  /** The serial the peer must have; the initiator always names one, a responder may. */
  readonly expectSerial?: string;
  /** NONCE_BYTES fresh random bytes, from the shell. */
  readonly nonce: Buffer;
  readonly versions?: readonly number[];
  /**
   * Responder: the serial the peer's TLS client certificate names; the peer must claim it. Absent:
   * no certificate was asked for, and the secret alone proves the serial.
   */
  readonly certifiedSerial?: string;
}

const REFUSAL_CODES: Record<RefuseReasonCode, ErrorCode> = {
  [RefuseReason.NO_COMMON_VERSION]: "LINK_VERSION",
  [RefuseReason.WRONG_SERIAL]: "LINK_WRONG_SERIAL",
  [RefuseReason.AUTH_FAILED]: "LINK_AUTH_FAILED",
  [RefuseReason.PROTOCOL]: "LINK_PROTOCOL",
};

/** The error code for a REFUSE reason; an unknown reason is a protocol failure. */
export function refusalCode(reason: number): ErrorCode {
  return REFUSAL_CODES[reason as RefuseReasonCode] ?? "LINK_PROTOCOL";
}

/** The proof one side sends: HMAC-SHA256 keyed by the secret over the direction and both sides. */
export function computeProof(options: {
  secret: string;
  direction: "I->R" | "R->I";
  initiatorNonce: Buffer;
  responderNonce: Buffer;
  initiatorSerial: string;
  responderSerial: string;
}): Buffer {
  const hmac = createHmac("sha256", options.secret);
  hmac.update(`gsnap-link-proof/1\0${options.direction}\0`);
  hmac.update(options.responderNonce);
  hmac.update(options.initiatorNonce);
  hmac.update(`\0${options.initiatorSerial}\0${options.responderSerial}`);
  return hmac.digest();
}

export class LinkHandshake {
  private stateValue: HandshakeState;
  private readonly versions: readonly number[];
  private version = 0;
  private peerHello: HelloFrame | undefined;
  private peerNonce: Buffer | undefined;
  /** The secret of this peer, known once we know who the peer is (or claims to be). */
  private secret: string | undefined;

  constructor(private readonly options: HandshakeOptions) {
    assert.equal(options.nonce.length, NONCE_BYTES, "a nonce has NONCE_BYTES bytes");
    assert.ok(options.secret !== "", "the link secret is not empty");
    assert.ok(options.role === "responder" || options.expectSerial, "an initiator names a serial");
    this.versions = options.versions ?? SUPPORTED_VERSIONS;
    this.stateValue = options.role === "initiator" ? "start" : "awaiting-hello";
  }

  get state(): HandshakeState {
    return this.stateValue;
  }

  /** The initiator's opening HELLO; the responder opens with nothing and waits. */
  start(): HandshakeStep {
    if (this.options.role === "responder") return { send: [] };
    assert.equal(this.stateValue, "start", "start() is called once");
    const expected = this.options.expectSerial ?? "";
    this.secret = secretFor(this.options.secret, expected);
    // Nothing is sent: the peer would only learn that we cannot prove anything.
    if (this.secret === undefined)
      return this.fail("LINK_AUTH_FAILED", missingSecretHint(expected));
    this.stateValue = "awaiting-hello";
    return { send: [this.hello(this.versions, this.options.expectSerial ?? "")] };
  }

  receive(frame: Frame): HandshakeStep {
    assert.ok(this.stateValue !== "start", "start() comes before receive()");
    if (this.stateValue === "established" || this.stateValue === "failed") {
      return this.fail("LINK_PROTOCOL", `a ${frame.type} frame after the handshake ended`);
    }
    if (frame.type === "REFUSE") {
      this.stateValue = "failed";
      return { send: [], outcome: refusedOutcome(frame) };
    }
    const expected = this.expectedFrame();
    if (frame.type !== expected) {
      return this.refuse(RefuseReason.PROTOCOL, `a ${frame.type} frame came, not ${expected}`);
    }
    switch (frame.type) {
      case "HELLO":
        return this.options.role === "initiator" ? this.onHelloReply(frame) : this.onHello(frame);
      case "CHALLENGE":
        return this.onChallenge(frame.nonce);
      case "PROOF":
        return this.onProof(frame.proof);
      case "WELCOME":
        return this.onWelcome(frame.version);
      default:
        assert.fail(`expectedFrame() names only handshake frames, not ${frame.type}`);
    }
  }

  private expectedFrame(): Frame["type"] {
    switch (this.stateValue) {
      case "awaiting-hello":
        return "HELLO";
      case "awaiting-challenge":
        return "CHALLENGE";
      case "awaiting-proof":
        return "PROOF";
      default:
        return "WELCOME";
    }
  }

  /** Responder: pick the highest common version and check that we are the serial wanted. */
  private onHello(hello: HelloFrame): HandshakeStep {
    const common = hello.versions.filter((version) => this.versions.includes(version));
    if (common.length === 0) {
      return this.refuse(
        RefuseReason.NO_COMMON_VERSION,
        `peer "${hello.serial}" offers versions ${hello.versions.join(",")}, we speak ${this.versions.join(",")}`,
      );
    }
    if (hello.expectSerial !== "" && hello.expectSerial !== this.options.serial) {
      return this.refuse(
        RefuseReason.WRONG_SERIAL,
        `peer "${hello.serial}" expects serial "${hello.expectSerial}", this is "${this.options.serial}"`,
      );
    }
    const wrongPeer = this.checkPeerSerial(hello.serial) ?? this.checkClaim(hello.serial);
    if (wrongPeer !== undefined) return wrongPeer;
    this.version = Math.max(...common);
    this.peerHello = hello;
    this.stateValue = "awaiting-challenge";
    const challenge = {
      type: "CHALLENGE",
      requestId: HANDSHAKE_REQUEST_ID,
      nonce: this.options.nonce,
    };
    return { send: [this.hello([this.version], hello.serial), challenge as Frame] };
  }

  /** Initiator: the responder chose a version and said who it is. */
  private onHelloReply(hello: HelloFrame): HandshakeStep {
    const chosen = hello.versions[0];
    if (hello.versions.length !== 1 || !this.versions.includes(chosen)) {
      return this.refuse(
        RefuseReason.NO_COMMON_VERSION,
        `peer "${hello.serial}" chose versions ${hello.versions.join(",")}, we offered ${this.versions.join(",")}`,
      );
    }
    const wrongPeer = this.checkPeerSerial(hello.serial);
    if (wrongPeer !== undefined) return wrongPeer;
    this.version = chosen;
    this.peerHello = hello;
    this.stateValue = "awaiting-challenge";
    return { send: [] };
  }

  private checkPeerSerial(peerSerial: string): HandshakeStep | undefined {
    const expected = this.options.expectSerial;
    if (expected === undefined || expected === "" || expected === peerSerial) return undefined;
    return this.refuse(
      RefuseReason.WRONG_SERIAL,
      `expected serial "${expected}" but the peer is "${peerSerial}"`,
    );
  }

  /**
   * Responder: whether the peer may claim the serial it names: not ours, the one its certificate
   * names (with TLS client certificates), and one we hold a secret for. Sets the secret.
   */
  private checkClaim(peerSerial: string): HandshakeStep | undefined {
    if (peerSerial === this.options.serial) {
      return this.refuse(
        RefuseReason.WRONG_SERIAL,
        `the peer claims serial "${peerSerial}", which is this system's own`,
      );
    }
    const certified = this.options.certifiedSerial;
    if (certified !== undefined && certified !== peerSerial) {
      return this.refuse(
        RefuseReason.AUTH_FAILED,
        `the peer claims serial "${peerSerial}" but its certificate names "${certified}"`,
      );
    }
    this.secret = secretFor(this.options.secret, peerSerial);
    if (this.secret === undefined) {
      return this.refuse(RefuseReason.AUTH_FAILED, missingSecretHint(peerSerial));
    }
    return undefined;
  }

  private onChallenge(nonce: Buffer): HandshakeStep {
    if (nonce.equals(this.options.nonce)) {
      return this.refuse(RefuseReason.PROTOCOL, "the peer sent back our own nonce");
    }
    this.peerNonce = nonce;
    this.stateValue = "awaiting-proof";
    if (this.options.role === "responder") return { send: [] };
    return {
      send: [
        { type: "CHALLENGE", requestId: HANDSHAKE_REQUEST_ID, nonce: this.options.nonce },
        { type: "PROOF", requestId: HANDSHAKE_REQUEST_ID, proof: this.proof("I->R") },
      ],
    };
  }

  private onProof(proof: Buffer): HandshakeStep {
    const peerDirection = this.options.role === "initiator" ? "R->I" : "I->R";
    const expected = this.proof(peerDirection);
    if (proof.length !== expected.length || !timingSafeEqual(proof, expected)) {
      const peer = this.peerHello?.serial ?? "?";
      return this.refuse(RefuseReason.AUTH_FAILED, `peer "${peer}" did not prove the link secret`);
    }
    if (this.options.role === "initiator") {
      this.stateValue = "awaiting-welcome";
      return { send: [] };
    }
    const send: Frame[] = [
      { type: "PROOF", requestId: HANDSHAKE_REQUEST_ID, proof: this.proof("R->I") },
      { type: "WELCOME", requestId: HANDSHAKE_REQUEST_ID, version: this.version },
    ];
    return { send, outcome: this.establish() };
  }

  private onWelcome(version: number): HandshakeStep {
    if (version !== this.version) {
      return this.refuse(
        RefuseReason.PROTOCOL,
        `WELCOME for version ${version}, not ${this.version}`,
      );
    }
    return { send: [], outcome: this.establish() };
  }

  private establish(): HandshakeOutcome {
    assert.ok(this.peerHello !== undefined, "the peer said HELLO before the link is up");
    this.stateValue = "established";
    const session = {
      version: this.version,
      peerSerial: this.peerHello.serial,
      peerSsids: this.peerHello.ssids,
    };
    return { kind: "established", session };
  }

  private proof(direction: "I->R" | "R->I"): Buffer {
    assert.ok(this.peerNonce !== undefined, "the peer's nonce is known before a proof");
    assert.ok(this.peerHello !== undefined, "the peer's serial is known before a proof");
    assert.ok(this.secret !== undefined, "the peer's secret is known before a proof");
    const initiator = this.options.role === "initiator";
    return computeProof({
      secret: this.secret,
      direction,
      initiatorNonce: initiator ? this.options.nonce : this.peerNonce,
      responderNonce: initiator ? this.peerNonce : this.options.nonce,
      initiatorSerial: initiator ? this.options.serial : this.peerHello.serial,
      responderSerial: initiator ? this.peerHello.serial : this.options.serial,
    });
  }

  private hello(versions: readonly number[], expectSerial: string): Frame {
    return {
      type: "HELLO",
      requestId: HANDSHAKE_REQUEST_ID,
      versions,
      serial: this.options.serial,
      expectSerial,
      ssids: this.options.ssids ?? [],
    };
  }

  /** Ends the handshake on our decision, telling the peer why in a REFUSE. */
  private refuse(reason: RefuseReasonCode, why: string): HandshakeStep {
    const code = REFUSAL_CODES[reason];
    const message = `Cannot establish link: ${why}`;
    this.stateValue = "failed";
    const refusal: RefuseFrame = {
      type: "REFUSE",
      requestId: HANDSHAKE_REQUEST_ID,
      reason,
      text: message,
    };
    return { send: [refusal], outcome: { kind: "failed", code, message } };
  }

  private fail(code: ErrorCode, why: string): HandshakeStep {
    this.stateValue = "failed";
    return {
      send: [],
      outcome: { kind: "failed", code, message: `Cannot establish link: ${why}` },
    };
  }
}

function refusedOutcome(frame: RefuseFrame): HandshakeOutcome {
  return {
    kind: "failed",
    code: refusalCode(frame.reason),
    message: `Cannot establish link: the peer refused (reason ${frame.reason}): ${frame.text}`,
  };
}

import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { Frame } from "./frame-types.js";
import {
  computeProof,
  type HandshakeOptions,
  type HandshakeOutcome,
  LinkHandshake,
} from "./handshake.js";

type Side = Omit<HandshakeOptions, "role" | "nonce"> & { nonce?: Buffer };

function initiator(side: Partial<Side> = {}): LinkHandshake {
  return new LinkHandshake({
    role: "initiator",
    secret: "s3cret",
    serial: "GS00001",
    expectSerial: "GS00002",
    ssids: ["0001"],
    nonce: randomBytes(32),
    ...side,
  });
}

function responder(side: Partial<Side> = {}): LinkHandshake {
  return new LinkHandshake({
    role: "responder",
    secret: "s3cret",
    serial: "GS00002",
    ssids: ["00A1", "00A2"],
    nonce: randomBytes(32),
    ...side,
  });
}

interface Run {
  initiator?: HandshakeOutcome;
  responder?: HandshakeOutcome;
  /** Every frame the initiator sent, in order. */
  sentByInitiator: Frame[];
}

/** Passes frames between the two machines until neither has anything to say. */
function run(a: LinkHandshake, b: LinkHandshake): Run {
  const result: Run = { sentByInitiator: [] };
  const toResponder = [...a.start().send];
  let toInitiator: Frame[] = [];
  result.sentByInitiator.push(...toResponder);
  while (toResponder.length > 0 || toInitiator.length > 0) {
    for (const frame of toResponder.splice(0)) {
      if (result.responder) break;
      const step = b.receive(frame);
      toInitiator.push(...step.send);
      result.responder ??= step.outcome;
    }
    for (const frame of toInitiator.splice(0)) {
      if (result.initiator) break;
      const step = a.receive(frame);
      toResponder.push(...step.send);
      result.sentByInitiator.push(...step.send);
      result.initiator ??= step.outcome;
    }
    toInitiator = toInitiator.filter(() => !result.initiator);
  }
  return result;
}

describe("link handshake", () => {
  it("establishes both sides with the highest common version and each other's serial", () => {
    const a = initiator({ versions: [1, 2, 3] });
    const b = responder({ versions: [2, 3, 4] });
    const result = run(a, b);
    expect(result.initiator).toEqual({
      kind: "established",
      session: { version: 3, peerSerial: "GS00002", peerSsids: ["00A1", "00A2"] },
    });
    expect(result.responder).toEqual({
      kind: "established",
      session: { version: 3, peerSerial: "GS00001", peerSsids: ["0001"] },
    });
    expect(a.state).toBe("established");
    expect(b.state).toBe("established");
  });

  it("never sends the secret itself", () => {
    const result = run(
      initiator({ secret: "very-secret-words" }),
      responder({ secret: "very-secret-words" }),
    );
    const wire = JSON.stringify(result.sentByInitiator);
    expect(wire).not.toContain("very-secret-words");
  });

  it("refuses an initiator with the wrong secret on both sides", () => {
    const result = run(initiator({ secret: "wrong" }), responder());
    expect(result.responder).toMatchObject({ kind: "failed", code: "LINK_AUTH_FAILED" });
    expect(result.initiator).toMatchObject({ kind: "failed", code: "LINK_AUTH_FAILED" });
  });

  it("fails an initiator whose responder does not know the secret", () => {
    // A responder with another secret refuses the initiator's proof before proving anything.
    const result = run(initiator(), responder({ secret: "other" }));
    expect(result.initiator).toMatchObject({ kind: "failed", code: "LINK_AUTH_FAILED" });
  });

  it("refuses an initiator that expects another serial", () => {
    const result = run(initiator({ expectSerial: "GS00099" }), responder());
    expect(result.responder).toMatchObject({ kind: "failed", code: "LINK_WRONG_SERIAL" });
    expect(result.initiator).toMatchObject({ kind: "failed", code: "LINK_WRONG_SERIAL" });
  });

  it("refuses when no version is common, with a reason", () => {
    const result = run(initiator({ versions: [1] }), responder({ versions: [2] }));
    expect(result.responder).toMatchObject({ kind: "failed", code: "LINK_VERSION" });
    expect(result.initiator).toMatchObject({
      kind: "failed",
      code: "LINK_VERSION",
      message: expect.stringMatching(/^Cannot establish link: .*versions 1/),
    });
  });

  it("refuses a proof replayed from an earlier connection", () => {
    const first = run(initiator(), responder());
    const recorded = first.sentByInitiator.find((frame) => frame.type === "PROOF");
    expect(recorded).toBeDefined();
    // The attacker replays the initiator's HELLO, a CHALLENGE and the recorded PROOF to a fresh
    // responder, which chose a new nonce: the proof does not match it.
    const b = responder();
    for (const frame of first.sentByInitiator) {
      const step = b.receive(frame);
      if (step.outcome) {
        expect(step.outcome).toMatchObject({ kind: "failed", code: "LINK_AUTH_FAILED" });
        expect(step.send[0]).toMatchObject({ type: "REFUSE" });
        return;
      }
    }
    expect.fail("the replayed proof was not refused");
  });

  it("refuses a proof reflected back in the other direction", () => {
    const secret = "s3cret";
    const a = initiator({ secret });
    const responderNonce = randomBytes(32);
    const b = responder({ secret, nonce: responderNonce });
    b.receive(a.start().send[0]);
    const initiatorNonce = randomBytes(32);
    const challenge = b.receive({ type: "CHALLENGE", requestId: 0, nonce: initiatorNonce });
    expect(challenge.send).toEqual([]);
    // A proof made for the responder-to-initiator direction must not pass as the initiator's.
    const reflected = computeProof({
      secret,
      direction: "R->I",
      initiatorNonce,
      responderNonce,
      initiatorSerial: "GS00001",
      responderSerial: "GS00002",
    });
    expect(b.receive({ type: "PROOF", requestId: 0, proof: reflected }).outcome).toMatchObject({
      code: "LINK_AUTH_FAILED",
    });
    const right = computeProof({
      secret,
      direction: "I->R",
      initiatorNonce,
      responderNonce,
      initiatorSerial: "GS00001",
      responderSerial: "GS00002",
    });
    const b2 = responder({ secret, nonce: responderNonce });
    b2.receive(initiator({ secret }).start().send[0]);
    b2.receive({ type: "CHALLENGE", requestId: 0, nonce: initiatorNonce });
    expect(b2.receive({ type: "PROOF", requestId: 0, proof: right }).outcome).toMatchObject({
      kind: "established",
    });
  });

  it("fails on a frame out of order with a protocol refusal", () => {
    const b = responder();
    const step = b.receive({ type: "PING", requestId: 1 });
    expect(step.outcome).toMatchObject({ kind: "failed", code: "LINK_PROTOCOL" });
    expect(step.send[0]).toMatchObject({ type: "REFUSE" });
    expect(b.state).toBe("failed");
  });

  it("refuses a responder whose serial is not the one expected", () => {
    const a = initiator({ expectSerial: "GS00002" });
    a.start();
    const step = a.receive({
      type: "HELLO",
      requestId: 0,
      versions: [1],
      serial: "GS00003",
      expectSerial: "GS00001",
      ssids: [],
    });
    expect(step.outcome).toMatchObject({ kind: "failed", code: "LINK_WRONG_SERIAL" });
  });

  describe("with a secret per peer serial", () => {
    // B (GS00002) keeps a secret for GS00001 and one for GS00003; each peer holds only its own.
    const secrets = {
      peers: new Map([
        ["GS00001", "secret-of-1"],
        ["GS00003", "secret-of-3"],
      ]),
    };

    it("establishes a peer that proves its own serial's secret", () => {
      const result = run(initiator({ secret: "secret-of-1" }), responder({ secret: secrets }));
      expect(result.responder).toMatchObject({
        kind: "established",
        session: { peerSerial: "GS00001" },
      });
      expect(result.initiator?.kind).toBe("established");
    });

    it("refuses a peer that holds serial GS00003's secret but claims GS00001", () => {
      const result = run(initiator({ secret: "secret-of-3" }), responder({ secret: secrets }));
      expect(result.responder).toMatchObject({ kind: "failed", code: "LINK_AUTH_FAILED" });
      expect(result.initiator).toMatchObject({ kind: "failed", code: "LINK_AUTH_FAILED" });
    });

    it("refuses a serial with no secret at its HELLO, before any proof", () => {
      const result = run(
        initiator({ serial: "GS00009", secret: "secret-of-1" }),
        responder({ secret: secrets }),
      );
      expect(result.responder).toMatchObject({ kind: "failed", code: "LINK_AUTH_FAILED" });
      expect((result.responder as { message: string }).message).toMatch(
        /no link secret is configured for serial "GS00009"/,
      );
      expect(result.sentByInitiator.map((frame) => frame.type)).toEqual(["HELLO"]);
    });

    it("proves a serial without an entry with the shared secret, and never one with an entry", () => {
      const withShared = { ...secrets, shared: "shared" };
      const other = run(
        initiator({ serial: "GS00009", secret: "shared" }),
        responder({ secret: withShared }),
      );
      expect(other.responder?.kind).toBe("established");
      const named = run(initiator({ secret: "shared" }), responder({ secret: withShared }));
      expect(named.responder).toMatchObject({ kind: "failed", code: "LINK_AUTH_FAILED" });
    });

    it("refuses a peer that claims the responder's own serial, whatever secret it holds", () => {
      const result = run(
        initiator({ serial: "GS00002", secret: "s3cret" }),
        responder({ secret: "s3cret" }),
      );
      expect(result.responder).toMatchObject({ kind: "failed", code: "LINK_WRONG_SERIAL" });
      expect(result.initiator).toMatchObject({ kind: "failed", code: "LINK_WRONG_SERIAL" });
    });

    it("refuses a peer whose TLS certificate names another serial than it claims", () => {
      const result = run(
        initiator({ secret: "secret-of-1" }),
        responder({ secret: secrets, certifiedSerial: "GS00003" }),
      );
      expect(result.responder).toMatchObject({ kind: "failed", code: "LINK_AUTH_FAILED" });
    });

    it("fails an initiator with no secret for the serial it expects, sending nothing", () => {
      const alone = initiator({ secret: { peers: new Map([["GS00005", "x"]]) } });
      const step = alone.start();
      expect(step.send).toEqual([]);
      expect(step.outcome).toMatchObject({ kind: "failed", code: "LINK_AUTH_FAILED" });
    });
  });
});

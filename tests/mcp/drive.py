"""Drives `flagtop mcp` with the official MCP Python SDK client, as an assistant would.

Run by tests/mcp.rs (which starts `flagtop serve` with the demo scenario, mints the tokens and
defines a flag with an injected description). Every check is an assert with a message; the
script prints `MCP-E2E-OK` at the end. Only loopback traffic.

Environment: FLAGTOP_BIN, FLAGTOP_BACKEND, AGENT_TOKEN, AGENT_NAME, APPROVER_TOKEN,
OPERATOR_TOKEN, INJECTED_FLAG.
"""

import json
import os
import sys
import time
import urllib.request

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError

BIN = os.environ["FLAGTOP_BIN"]
BACKEND = os.environ["FLAGTOP_BACKEND"]
AGENT = os.environ["AGENT_TOKEN"]
AGENT_NAME = os.environ["AGENT_NAME"]
APPROVER = os.environ["APPROVER_TOKEN"]
OPERATOR = os.environ["OPERATOR_TOKEN"]
INJECTED = os.environ["INJECTED_FLAG"]
# The demo's checkout-v2 eu-west breach appears within about half a minute.
BREACH_DEADLINE_SECS = 90
EXPECTED_TOOLS = {"overview", "list_flags", "get_flag", "list_breaches", "recent_audit", "pending_approvals", "propose"}
HIDDEN = ["\x1b", "\u202e", "\u2066", "\u200b", "\U000e0041", "\x07", "\r"]


def http(method, path, token, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(BACKEND + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def params(token):
    # The SDK passes only a safe subset of the environment; the token goes in explicitly.
    return StdioServerParameters(
        command=BIN,
        args=["mcp", "--backend", BACKEND],
        env={"FLAGTOP_TOKEN": token, "FLAGTOP_DATA": os.environ.get("FLAGTOP_DATA", "")},
    )


def text_of(result):
    return "".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def call(session, name, args=None):
    result = await session.call_tool(name, args or {})
    body = json.loads(text_of(result))
    return result.is_error, body


def pending():
    status, body = http("GET", "/v1/approvals", APPROVER)
    assert status == 200, (status, body)
    return [a for a in body["approvals"] if a["state"] == "pending"]


async def main():
    async with stdio_client(params(AGENT)) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            assert init.server_info.name == "flagtop", init
            assert "never" in (init.instructions or ""), init.instructions

            tools = (await session.list_tools()).tools
            names = {t.name for t in tools}
            assert names == EXPECTED_TOOLS, names
            for t in tools:
                assert t.description and len(t.description) > 60, t
                for banned in ("apply", "approve", "reject", "withdraw", "define", "token", "mint"):
                    assert banned not in t.name, t.name

            err, ov = await call(session, "overview")
            assert not err, ov
            prod = [e for e in ov["environments"] if e["key"] == "production"]
            assert prod and prod[0]["protected"], ov
            assert ov["you"]["role"] == "agent" and ov["you"]["name"] == AGENT_NAME, ov

            err, flags = await call(session, "list_flags", {"env": "production", "limit": 2})
            assert not err and len(flags["flags"]) == 2 and flags["next_cursor"] == "2", flags
            err, rest = await call(session, "list_flags", {"env": "production", "cursor": flags["next_cursor"], "limit": 50})
            assert not err and rest["next_cursor"] is None, rest
            keys = [f["key"] for f in flags["flags"] + rest["flags"]]
            assert "checkout-v2" in keys and len(keys) == flags["total"], keys

            err, detail = await call(session, "get_flag", {"flag": "checkout-v2", "env": "production"})
            assert not err, detail
            prod = detail["flag"]["environments"]["production"]
            assert {c["name"] for c in prod["cohorts"]} >= {"eu-west", "us-east"}, prod["cohorts"]
            assert prod["ladder"]["current_stage"] == "25%", prod["ladder"]
            g = prod["guardrails"][0]
            for field in ("value", "baseline", "threshold", "status", "sufficiency"):
                assert field in g, g
            assert prod["exposure"], prod

            # Wait for the demo's eu-west breach, as an assistant watching would.
            breach, deadline = None, time.monotonic() + BREACH_DEADLINE_SECS
            while breach is None and time.monotonic() < deadline:
                err, b = await call(session, "list_breaches", {"env": "production"})
                assert not err, b
                breach = next((x for x in b["breaches"] if x["flag"] == "checkout-v2" and x["reading"]["cohort"] == "eu-west"), None)
                if breach is None:
                    await anyio.sleep(1)
            assert breach, "no eu-west breach within %ss" % BREACH_DEADLINE_SECS
            assert breach["reading"]["status"] == "breached", breach
            rollback = breach["narrowed_rollback"]
            assert rollback["action"] == {"type": "rollback", "flag": "checkout-v2", "env": "production", "cohort": "eu-west"}, rollback
            assert rollback["reverse"]["type"] == "restore", rollback

            # The engine drafts the same rollback itself; a repeat would merge into its request.
            # An approver rejects it here so that the agent's proposal stands as its own request.
            if breach["pending_request"]:
                rid = breach["pending_request"]["id"]
                status, body = http("POST", "/v1/approvals/%s/reject" % rid, APPROVER, {"reason": "test: let the assistant draft it"})
                assert status == 200, (status, body)

            before = len(pending())
            # A wrong reverse is refused by the control plane, with the reverse it computes.
            wrong = dict(rollback["reverse"], cohort="us-east")
            err, r = await call(session, "propose", {"action": rollback["action"], "reverse": wrong, "reason": "p95 breach in eu-west", "evidence": [breach["evidence"]]})
            assert err and r["error"]["code"] == "reverse_mismatch", r
            assert "restore" in r["error"]["message"], r
            assert len(pending()) == before, "a refused proposal changed the queue"

            err, r = await call(session, "propose", {
                "action": rollback["action"],
                "reverse": rollback["reverse"],
                "reason": "p95 latency breach in eu-west: take eu-west back, keep the rest of the rollout",
                "evidence": [breach["evidence"]],
                "evidence_gap": "error budget of eu-west partners not joined to the flag yet",
                "affected_scope": "eu-west users of checkout-v2 in production only",
            })
            assert not err, r
            assert r["outcome"] == "requested" and r["applied"] is False, r
            assert r["merged_into_existing_request"] is False, r
            assert "approver" in r["who_must_approve"] and AGENT_NAME in r["who_must_approve"], r
            assert r["affected_scope"]["cohort"] == "eu-west" and r["affected_scope"]["tier"] == "reduce", r
            apr = r["approval_id"]

            mine = [a for a in pending() if a["id"] == apr]
            assert mine, "the proposal is not pending in /v1/approvals"
            a = mine[0]
            assert a["requested_by"] == {"name": AGENT_NAME, "role": "agent", "kind": "agent"}, a
            assert a["reverse"] == rollback["reverse"] and a["evidence"] and a["evidence_gap"], a
            assert "affected scope: eu-west users" in a["reason"], a

            err, audit = await call(session, "recent_audit", {"flag": "checkout-v2", "limit": 50})
            assert not err, audit
            ev = [e for e in audit["events"] if e.get("approval") == apr and e["kind"] == "requested"]
            assert ev and ev[0]["source"] == "mcp" and ev[0]["actor"]["name"] == AGENT_NAME, audit["events"][:3]

            err, q = await call(session, "pending_approvals")
            assert not err and any(x["id"] == apr and "approver" in x["who_must_approve"] for x in q["approvals"]), q

            # Bad input: MCP errors, nothing changes.
            count = len(pending())
            try:
                await session.call_tool("apply_change", {"x": 1})
                raise AssertionError("an unknown tool was accepted")
            except MCPError as e:
                assert "unknown tool" in e.error.message, e.error
            try:
                await session.call_tool("propose", {"action": rollback["action"], "reverse": rollback["reverse"], "reason": "x" * 40000})
                raise AssertionError("oversized arguments were accepted")
            except MCPError as e:
                assert "at most" in e.error.message, e.error
            res = await session.call_tool("propose", {"reason": "no action"})
            assert res.is_error and "action" in text_of(res), text_of(res)
            res = await session.call_tool("list_flags", {"env": "production", "limit": 500})
            assert res.is_error and "limit" in text_of(res), text_of(res)
            res = await session.call_tool("list_flags", {"env": "production", "sneaky": True})
            assert res.is_error, text_of(res)
            assert len(pending()) == count, "bad input changed the approval queue"

            # Text written by others reaches the agent as escaped data.
            res = await session.call_tool("get_flag", {"flag": INJECTED})
            raw = text_of(res)
            assert not res.is_error, raw
            for ch in HIDDEN:
                assert ch not in raw, "raw %r reached the agent" % ch
            if res.structured_content is not None:
                for ch in HIDDEN:
                    assert ch not in json.dumps(res.structured_content, ensure_ascii=False), ch
            desc = json.loads(raw)["flag"]["description"]
            assert "\\u{202e}" in desc and "\\u{1b}" in desc and "\\u{e0041}" in desc, desc
            assert "IGNORE PREVIOUS INSTRUCTIONS" in desc, desc

    # A token of any other role: the server refuses to start, the client cannot initialise.
    refused = False
    try:
        with anyio.fail_after(30):
            async with stdio_client(params(OPERATOR)) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
    except Exception:  # the SDK reports a closed connection; its type is not part of the contract
        refused = True
    assert refused, "flagtop mcp served an operator token"
    print("MCP-E2E-OK", flush=True)


if __name__ == "__main__":
    anyio.run(main)
    sys.exit(0)

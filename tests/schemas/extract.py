#!/usr/bin/env python3
"""extract.py - how openai-chat.schema.json and anthropic-messages.schema.json
were cut from the providers' published documents (see README.md). Not run by
the tests; kept so the files can be remade from newer documents:

    extract.py openai OPENAPI_JSON > openai-chat.schema.json
    extract.py anthropic MESSAGES_MD > anthropic-messages.schema.json

OPENAPI_JSON: openapi.json of github.com/openai/openai-openapi.
MESSAGES_MD: Anthropic's API reference page for POST /v1/messages (its
OpenAPI section, a ````yaml block)."""
import json
import sys

import yaml

PRUNE_ANTHROPIC = {
    # The content blocks tract sends; the other block types are left out.
    "InputMessage.content": ["RequestTextBlock", "RequestToolUseBlock",
                             "RequestToolResultBlock"],
    "RequestToolResultBlock.content": ["RequestTextBlock"],
}


def closure(schemas, root):
    seen = {}

    def walk(x):
        if isinstance(x, dict):
            for k, v in x.items():
                if k == "$ref":
                    name = v.split("/")[-1]
                    if name not in seen:
                        seen[name] = schemas[name]
                        walk(schemas[name])
                elif k == "properties":
                    for pv in v.values():
                        walk(pv)
                else:
                    walk(v)
        elif isinstance(x, list):
            for i in x:
                walk(i)
    walk(root)
    return seen


def keep_refs(one_of, names):
    return [s for s in one_of if s.get("$ref", "").split("/")[-1] in names]


def openai(path):
    d = json.load(open(path))
    s = d["components"]["schemas"]
    req = s["CreateChatCompletionRequest"]["allOf"][1]
    root = {
        "type": "object",
        "required": ["messages"],
        "properties": {"messages": req["properties"]["messages"]},
    }
    root["components"] = {"schemas": dict(sorted(closure(s, root).items()))}
    return root


def anthropic(path):
    lines = open(path).read().split("\n")
    start = next(i for i, l in enumerate(lines) if l.startswith("````yaml"))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("````"))
    d = yaml.safe_load("\n".join(lines[start + 1:end]))
    s = d["components"]["schemas"]
    body = d["paths"]["request"]["body"]["application/json"]["schemaArray"][0]
    # The message members of the body only (model, max_tokens... are the
    # provider's); the properties' allOf wrappers unwrapped.
    props = {k: body["properties"][k]["allOf"][0] for k in ("system", "messages")}
    s = json.loads(json.dumps(s))
    im = s["InputMessage"]["properties"]["content"]["anyOf"][1]["items"]
    im["oneOf"] = keep_refs(im["oneOf"], PRUNE_ANTHROPIC["InputMessage.content"])
    im.pop("discriminator", None)
    tr = s["RequestToolResultBlock"]["properties"]["content"]["anyOf"][1]["items"]
    tr["oneOf"] = keep_refs(tr["oneOf"], PRUNE_ANTHROPIC["RequestToolResultBlock.content"])
    tr.pop("discriminator", None)
    # Citations (a text block's references into documents) are not sent.
    s["RequestTextBlock"]["properties"].pop("citations", None)
    root = {"type": "object", "required": ["messages"], "additionalProperties": False,
            "properties": props}
    root["components"] = {"schemas": dict(sorted(closure(s, root).items()))}
    return root


def strip(x):
    """Drop annotations (descriptions, titles, examples, discriminators):
    they constrain nothing."""
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items()
                if k not in ("description", "title", "examples", "discriminator",
                             "x-stainless-const", "deprecated", "default")}
    if isinstance(x, list):
        return [strip(i) for i in x]
    return x


if __name__ == "__main__":
    kind, path = sys.argv[1], sys.argv[2]
    out = strip(openai(path) if kind == "openai" else anthropic(path))
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")

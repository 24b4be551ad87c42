"""Save a Prefect Secret block without the value passing through argv, shell history or a parameter.

    python deployments/secret_block.py dockerhub-token-acme              # prompts, nothing echoed
    printf %s "$TOKEN" | python deployments/secret_block.py dockerhub-token-acme --overwrite

The flows take the block's *name* (``token_block`` / ``database_url_block``) and load the value at
run time. ``prefect block create secret`` only prints a link to the UI form (Blocks > + > Secret),
which is the other way to create one. PREFECT_API_URL must name the server the workers use.
"""

import argparse
import getpass
import re
import sys

_BLOCK_NAME = re.compile(r"[a-z0-9-]+")  # Prefect's rule for block document names


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Save a Prefect Secret block, reading its value from stdin.")
    parser.add_argument(
        "name", help="block name: lowercase letters, digits and dashes, e.g. dockerhub-token-acme"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing block of that name")
    args = parser.parse_args(argv)
    if not _BLOCK_NAME.fullmatch(args.name):
        parser.error(f"invalid block name {args.name!r}: use lowercase letters, digits and dashes")

    if sys.stdin.isatty():
        value = getpass.getpass(f"value of {args.name} (not echoed): ")
    else:
        value = sys.stdin.read()
    value = value.strip()
    if not value:
        sys.stderr.write("error: empty value: nothing saved\n")
        raise SystemExit(1)

    from prefect.blocks.system import Secret
    from pydantic import SecretStr

    try:
        Secret(value=SecretStr(value)).save(args.name, overwrite=args.overwrite)
    except ValueError as exc:
        if "already in use" in str(exc):
            message = f"a Secret block named {args.name!r} exists: pass --overwrite to replace its value"
        else:
            message = str(exc).splitlines()[0]
        sys.stderr.write(f"error: {message}\n")
        raise SystemExit(1) from None
    print(f"saved Secret block {args.name!r}: name it in a run's token_block or database_url_block parameter")


if __name__ == "__main__":
    main()

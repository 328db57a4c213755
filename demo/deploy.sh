#!/bin/sh
# The README tour's deploy step: a stand-in for a real deploy script that
# uses $TOKEN (run it through `airlock run -e TOKEN=deploy-token`).
if [ -z "${TOKEN:-}" ]; then
	echo "deploy.sh: TOKEN is not set (run me through airlock run -e TOKEN=...)" >&2
	exit 2
fi
echo "uploading with token $TOKEN"	# airlock:allow: the demo prints it

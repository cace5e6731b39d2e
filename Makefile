.PHONY: run test bench lint setup-run setup-test

run:
	bin/setup run
	bin/serve

test:
	bin/setup test
	.venv/bin/pytest -q -p no:cacheprovider

bench:
	bin/setup test
	.venv/bin/python -m bench.run

lint:
	.venv/bin/ruff check .

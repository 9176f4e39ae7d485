# The two commands of the README: `make demo` (install, build, run the main job) and `make test`.
SWIFT ?= swift

.PHONY: deps build demo test bench clean

deps:
	@./scripts/install-deps.sh

build: deps
	$(SWIFT) build -c release

demo: build
	./scripts/demo.sh

test: deps
	$(SWIFT) test --disable-swift-testing

bench: build
	.build/release/dpohost bench kernels

clean:
	rm -rf .build

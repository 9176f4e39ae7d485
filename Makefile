# The two commands of the README: `make demo` (install, build, run the main job) and `make test`.
SWIFT ?= swift

.PHONY: deps build demo test fuzz sanitize bench clean

deps:
	@./scripts/install-deps.sh

build: deps
	$(SWIFT) build -c release

demo: build
	./scripts/demo.sh

# The whole suite once per matrix-product library, so every numeric test holds on both
# (DPOHOST_GEMM_BACKEND is what gemm_backend=auto then means; README, "Matrix products"); the
# second pass also runs every attention tiled (DPOHOST_ATTENTION), so every model, loss and
# training fixture holds through both attention methods (README, "Long sequences").
test: deps
	DPOHOST_GEMM_BACKEND=openblas $(SWIFT) test --disable-swift-testing
	DPOHOST_GEMM_BACKEND=onednn DPOHOST_ATTENTION=tiled $(SWIFT) test --disable-swift-testing --skip-build

# Every libFuzzer target of Tests/Fuzz for FUZZ_SECONDS each, from its seed corpus (scripts/fuzz.sh).
FUZZ_SECONDS ?= 60
fuzz: deps
	./scripts/fuzz.sh $(FUZZ_SECONDS)

# The tensor core, tape and plugin host suites under AddressSanitizer and ThreadSanitizer
# (scripts/sanitize.sh; SANITIZERS=address or thread runs one).
sanitize: deps
	./scripts/sanitize.sh

bench: build
	.build/release/dpohost bench kernels

clean:
	rm -rf .build .build-fuzz .build-address .build-thread

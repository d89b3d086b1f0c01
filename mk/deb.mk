# mk/deb.mk -- the Debian packages (included by the Makefile).
#
#   make deb    dpkg-buildpackage -us -uc -b from debian/, in a copy of the
#               source tree under build/deb/ (dh's clean step would empty
#               this tree's build/ otherwise); the .deb files land in
#               build/deb/: tgrad (tools, man pages, completions), libtg0
#               (the shared library), libtg-dev (header, libtg.a, libtg.so,
#               tg.pc).  Needs dpkg-dev and debhelper (the exact apt-get
#               command is printed when they are missing); never installs.
#               DEB_BUILD_OPTIONS passes through (nocheck skips the unit
#               tests; noopt reaches the hot loops too).  Then: lintian
#               build/deb/*.changes
DEB_DIR := build/deb
DEB_SRC := $(DEB_DIR)/tgrad-$(VERSION)
# noopt: no object at -O3 either (the Makefile's HOT_OBJ, whose -O3
# compile, static and PIC, took most of the time of an unoptimised
# package build: 25 of 33 s); passed to the Makefile's make as a
# command-line variable through MAKEFLAGS
DEB_MAKEFLAGS := $(if $(filter noopt,$(DEB_BUILD_OPTIONS)),HOT_OBJ=)

.PHONY: deb
deb:
	@./tests/deps.sh --check --quiet dpkg-dev debhelper $(BUILD_PKGS)
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_SRC)
	tar -cf - --exclude=./build --exclude=./bin --exclude=./.git --exclude='*.o' --exclude='*.d' \
	    --exclude=./lib/libtg.a --exclude=./lib/libtg.so --exclude=./lib/libtg_cuda.so . | tar -xf - -C $(DEB_SRC)
	cd $(DEB_SRC) && env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS $(if $(DEB_MAKEFLAGS),MAKEFLAGS='$(DEB_MAKEFLAGS)') \
	    dpkg-buildpackage -us -uc -b -j$(shell nproc)
	rm -rf $(DEB_SRC)
	@ls $(DEB_DIR)/*.deb

// Package browser holds the browser tests of package web: chromedp drives a
// headless Chromium through the site history, a timeline, a correlation id,
// pages, an export, keyboard navigation and a hostile value that must not
// run. It is a module of its own so that chromedp (and the Go 1.25 it
// needs) stays out of the auditlog module, whose users need Go 1.24.
//
// The tests skip when Chromium is missing unless AUDITLOG_REQUIRE_BROWSER=1
// (set by .ci/run, which installs Debian's chromium). Run them with
//
//	cd web/browser && go test ./...
//
// With -update-screenshots they rewrite web/testdata/screenshots/*.png.
package browser

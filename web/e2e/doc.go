// Package e2e holds the browser end-to-end tests (build tag e2e): a real studio server and
// Debian's headless chromium driven by chromedp. Run them with the e2e task.
package e2e

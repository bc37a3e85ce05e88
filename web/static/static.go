// Package static embeds the studio's stylesheet and page script (and, once the clients issue
// builds it, the wasm canvas) so the server is one binary.
package static

import "embed"

// Files are served under /static/.
//
//go:embed *.css *.js
var Files embed.FS

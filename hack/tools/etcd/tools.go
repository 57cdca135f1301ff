//go:build tools

// Package tools pins the Kubernetes commands this collection builds from the
// Go module proxy. The build tag keeps it out of every real build.
package tools

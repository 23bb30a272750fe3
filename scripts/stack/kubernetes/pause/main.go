// The pod sandbox ("pause") process of the stack's Kubernetes: it holds a pod's namespaces and
// does nothing else until it is told to stop. Built here because registry.k8s.io cannot be reached.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}

// The etcd server the stack's Kubernetes keeps its state in, built from the same module graph as
// Kubernetes itself (go.etcd.io/etcd/server/v3 is already in k8s.io/kubernetes' build list).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }

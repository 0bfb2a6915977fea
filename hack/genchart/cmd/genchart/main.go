// Command genchart writes the Helm chart charts/gatehouse generated from
// config/ (see package genchart). Run it through hack/gen-chart.sh.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gatehouse-dev/gatehouse/hack/genchart"
)

func main() {
	root := flag.String("root", ".", "Repository root.")
	out := flag.String("out", "charts/gatehouse", "Directory of the chart (replaced).")
	kubectl := flag.String("kubectl", "kubectl", "kubectl, for `kubectl kustomize`.")
	flag.Parse()
	files, err := genchart.Generate(*root, *kubectl)
	if err == nil {
		err = genchart.Write(*out, files)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "genchart:", err)
		os.Exit(1)
	}
}

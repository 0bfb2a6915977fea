package snapshot_test

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
)

func grant(access, roles, groups string) v1alpha1.FieldGrant {
	return v1alpha1.FieldGrant{Access: v1alpha1.FieldAccess(access), Roles: objNames(roles), Groups: objNames(groups)}
}

func fieldRule(name, def string, grants ...v1alpha1.FieldGrant) v1alpha1.FieldRule {
	return v1alpha1.FieldRule{Name: v1alpha1.FieldName(name), Default: v1alpha1.FieldAccess(def), Grants: grants}
}

func fieldPolicy(name, res, def string, fields ...v1alpha1.FieldRule) v1alpha1.FieldPolicy {
	return v1alpha1.FieldPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "t"},
		Spec: v1alpha1.FieldPolicySpec{Resource: v1alpha1.ModuleName(res), Default: v1alpha1.FieldAccess(def), Fields: fields}}
}

func chain(name, res string, steps ...v1alpha1.ApprovalStep) v1alpha1.ApprovalChain {
	return v1alpha1.ApprovalChain{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "t"},
		Spec: v1alpha1.ApprovalChainSpec{Resource: v1alpha1.ModuleName(res), Steps: steps}}
}

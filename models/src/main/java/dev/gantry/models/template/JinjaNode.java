package dev.gantry.models.template;

import java.util.List;

/** The parsed template: statements ({@link JinjaNode}) and expressions ({@link Expr}). */
sealed interface JinjaNode {
    record Text(String text) implements JinjaNode {}

    record Output(Expr expr, int line) implements JinjaNode {}

    record If(List<Branch> branches, List<JinjaNode> otherwise) implements JinjaNode {}

    record Branch(Expr test, List<JinjaNode> body) {}

    record For(List<String> targets, Expr iterable, Expr filter, List<JinjaNode> body, List<JinjaNode> otherwise,
               int line) implements JinjaNode {}

    /** {@code set a = ...}, {@code set a, b = ...} or {@code set ns.attr = ...} ({@code attrOf} non-null). */
    record Set(List<String> targets, Expr attrOf, String attr, Expr value, int line) implements JinjaNode {}

    record SetBlock(String target, List<JinjaNode> body, List<FilterCall> filters) implements JinjaNode {}

    record Macro(String name, List<Param> params, List<JinjaNode> body) implements JinjaNode {}

    record Param(String name, Expr defaultValue) {}

    record FilterBlock(List<FilterCall> filters, List<JinjaNode> body, int line) implements JinjaNode {}

    record FilterCall(String name, List<Expr> args, List<Kwarg> kwargs) {}

    record Kwarg(String name, Expr value) {}

    /** A bare expression statement ({@code {% do x.append(1) %}}). */
    record Do(Expr expr, int line) implements JinjaNode {}

    enum Loop implements JinjaNode {
        BREAK, CONTINUE
    }

    sealed interface Expr {}

    record Literal(Object value) implements Expr {}

    record Name(String name, int line) implements Expr {}

    record ListExpr(List<Expr> items) implements Expr {}

    record DictExpr(List<Expr> keys, List<Expr> values) implements Expr {}

    record Attr(Expr target, String name, int line) implements Expr {}

    record Item(Expr target, Expr key, int line) implements Expr {}

    record Slice(Expr target, Expr start, Expr stop, Expr step) implements Expr {}

    record Call(Expr fn, List<Expr> args, List<Kwarg> kwargs, int line) implements Expr {}

    record Filter(Expr value, FilterCall call, int line) implements Expr {}

    record Test(Expr value, String name, List<Expr> args, boolean negated, int line) implements Expr {}

    record Unary(String op, Expr operand) implements Expr {}

    record Binary(String op, Expr left, Expr right, int line) implements Expr {}

    record Conditional(Expr test, Expr then, Expr otherwise) implements Expr {}
}

package dev.gantry.models.template;

import java.util.List;

/** The parsed form of a {@link GoTemplate}: its nodes and the operands of its pipelines. */
final class GoAst {
    private GoAst() {}

    sealed interface Node {}

    record Text(String text) implements Node {}

    record Action(Pipe pipe) implements Node {}

    record If(List<Pipe> tests, List<List<Node>> bodies, List<Node> otherwise) implements Node {}

    record Range(List<String> vars, Pipe pipe, List<Node> body, List<Node> otherwise) implements Node {}

    record With(Pipe pipe, List<Node> body, List<Node> otherwise) implements Node {}

    /** {@code {{break}}}: ends the innermost {@code range} (only inside one's body). */
    record Break() implements Node {}

    /** {@code {{continue}}}: goes on with the innermost {@code range}'s next element. */
    record Continue() implements Node {}

    /** {@code $x := pipe} (declare) or {@code $x = pipe}; also a plain pipeline when {@code vars} is empty. */
    record Pipe(List<String> vars, List<Cmd> cmds) {}

    record Cmd(List<Operand> args) {}

    sealed interface Operand {}

    record Field(Operand base, List<String> path) implements Operand {}

    record Dot() implements Operand {}

    record Var(String name) implements Operand {}

    record Lit(Object value) implements Operand {}

    record Ident(String name) implements Operand {}

    record Sub(Pipe pipe) implements Operand {}
}

package dev.gantry.server;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/** The server reaches llama.cpp only through the runtime: it never imports the binding. */
class ArchitectureTest {
    @Test
    void serverDoesNotDependOnTheNativeBinding() {
        JavaClasses server = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("dev.gantry.server");
        noClasses().that().resideInAPackage("dev.gantry.server..")
                .should().dependOnClassesThat().resideInAPackage("dev.gantry.llama..")
                .check(server);
    }
}

import java.io.File;
import java.io.InputStream;
import java.util.Properties;

/**
 * metabase.jar for the tests of `make metabase`: where the real jar cannot be downloaded, this one
 * is served instead. Compiled for Java 21 (like Metabase, it will not run on an older JVM), it runs
 * the Metabase stand-in (tests/stack/metabase_standin_main.py) with the MB_* environment it was
 * given, and exits with it.
 */
public final class FakeMetabase {
    public static void main(String[] args) throws Exception {
        Properties where = new Properties();
        try (InputStream in = FakeMetabase.class.getResourceAsStream("/standin.properties")) {
            where.load(in);
        }
        ProcessBuilder builder = new ProcessBuilder(where.getProperty("python"), "-m", "tests.stack.metabase_standin_main");
        builder.directory(new File(where.getProperty("repo")));
        builder.environment().put("PYTHONPATH", where.getProperty("repo"));
        builder.inheritIO();
        Process standin = builder.start();
        Runtime.getRuntime().addShutdownHook(new Thread(standin::destroy));
        System.exit(standin.waitFor());
    }
}

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Properties;

/** Connects with pgjdbc as the job does (url, user, password) and prints who it is, or why it was refused. */
public class JdbcProbe {
    public static void main(String[] args) throws Exception {
        Properties properties = new Properties();
        properties.setProperty("user", args[1]);
        properties.setProperty("password", args[2]);
        properties.setProperty("connectTimeout", "5");
        try (Connection connection = new org.postgresql.Driver().connect(args[0], properties);
                ResultSet row = connection.createStatement().executeQuery("SELECT current_user")) {
            row.next();
            System.out.println("connected as " + row.getString(1));
        } catch (SQLException error) {
            System.out.println("refused " + error.getSQLState() + ": " + error.getMessage());
            System.exit(3);
        }
    }
}
